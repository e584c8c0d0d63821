import { randomUUID } from "node:crypto";
import { connect } from "node:net";
import WebSocket from "ws";
import { deadline, request, upstreamOf } from "./http";

/** Where a Jupyter server is and how to authenticate to it. */
export interface JupyterTarget {
  /** `http://host:port` or `unix:/path.sock`, as Spawner.start() returns it. */
  url: string;
  baseUrl: string;
  token: string;
}

/** What a cell produced. */
export interface ExecuteResult {
  status: "ok" | "error" | "died";
  stdout: string;
  /** text/plain of execute_result, if any. */
  result?: string;
  /** ename: evalue when status is "error". */
  error?: string;
  /** MIME bundles of the rich outputs (display_data and execute_result), in order, e.g. an image/png plot. */
  data: Record<string, unknown>[];
}

/**
 * GET (or any method) `<baseUrl><p>` on the server with the token, TCP or Unix socket alike; the body is
 * already read. Does not throw on HTTP errors (see jupyterApi for that).
 */
export async function jupyterFetch(t: JupyterTarget, method: string, p: string, body?: unknown): Promise<Response> {
  const d = deadline(30_000);
  try {
    return await request(t.url, `${t.baseUrl}${p}`, {
      method,
      headers: { authorization: `token ${t.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: d.signal,
    });
  } finally {
    d.clear();
  }
}

/** Calls the Jupyter REST API (`<baseUrl>api/<p>`) with the token; throws on a non-2xx status. */
export async function jupyterApi(t: JupyterTarget, method: string, p: string, body?: unknown): Promise<Response> {
  const res = await jupyterFetch(t, method, `api/${p}`, body);
  if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${await res.text()}`);
  return res;
}

/** Starts a python3 kernel; returns its id. */
export async function startKernel(t: JupyterTarget): Promise<string> {
  const res = await jupyterApi(t, "POST", "kernels", { name: "python3" });
  return ((await res.json()) as { id: string }).id;
}

/**
 * Runs `code` in a kernel through the kernel WebSocket (the same channel the notebook UI uses) and
 * collects its output. Resolves "died" when the kernel restarts or dies while running it (e.g. OOM).
 */
export function execute(t: JupyterTarget, kernelId: string, code: string, timeoutMs = 60_000): Promise<ExecuteResult> {
  const up = upstreamOf(t.url);
  const p = `${t.baseUrl}api/kernels/${kernelId}/channels`;
  const headers = { authorization: `token ${t.token}` };
  // A Unix socket: our own connection whatever the URL's host (ws's ws+unix: URLs mangle some paths).
  const ws =
    "socketPath" in up
      ? new WebSocket(`ws://localhost${p}`, { headers, createConnection: () => connect(up.socketPath) })
      : new WebSocket(`ws://${up.host.includes(":") ? `[${up.host}]` : up.host}:${up.port}${p}`, { headers });
  const msgId = randomUUID();
  const session = randomUUID();
  const out: ExecuteResult = { status: "ok", stdout: "", data: [] };
  return new Promise<ExecuteResult>((resolve, reject) => {
    let idle = false;
    let replied = false;
    const done = (r: ExecuteResult | Error) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.close();
      if (r instanceof Error) reject(r);
      else resolve(r);
    };
    const timer = setTimeout(() => done(new Error(`kernel did not answer within ${timeoutMs} ms`)), timeoutMs);
    ws.on("error", (err) => done(err));
    ws.on("close", () => done({ ...out, status: "died" }));
    ws.on("open", () => {
      ws.send(
        JSON.stringify({
          header: { msg_id: msgId, msg_type: "execute_request", session, username: "carnet", version: "5.3", date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: "shell",
          buffers: [],
        }),
      );
    });
    ws.on("message", (raw) => {
      const msg = JSON.parse(raw.toString()) as {
        channel: string;
        msg_type: string;
        parent_header: { msg_id?: string };
        content: Record<string, unknown>;
      };
      if (msg.msg_type === "status" && (msg.content.execution_state === "restarting" || msg.content.execution_state === "dead")) {
        done({ ...out, status: "died" });
        return;
      }
      if (msg.parent_header.msg_id !== msgId) return;
      if (msg.msg_type === "stream") out.stdout += String(msg.content.text ?? "");
      else if (msg.msg_type === "execute_result") {
        out.result = String((msg.content.data as Record<string, unknown>)["text/plain"] ?? "");
        out.data.push(msg.content.data as Record<string, unknown>);
      } else if (msg.msg_type === "display_data") out.data.push(msg.content.data as Record<string, unknown>);
      else if (msg.msg_type === "error") {
        out.status = "error";
        out.error = `${String(msg.content.ename)}: ${String(msg.content.evalue)}`;
      } else if (msg.msg_type === "execute_reply") {
        replied = true;
        if (msg.content.status === "error") out.status = "error";
      } else if (msg.msg_type === "status" && msg.content.execution_state === "idle") idle = true;
      if (replied && idle) done(out);
    });
  });
}

import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { deadline } from "./http";

/** Where a Jupyter server is and how to authenticate to it. */
export interface JupyterTarget {
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
}

function api(t: JupyterTarget, p: string): string {
  return `${t.url.replace(/\/+$/, "")}${t.baseUrl}api/${p}`;
}

/** Calls the Jupyter REST API with the token; throws on a non-2xx status. */
export async function jupyterApi(t: JupyterTarget, method: string, p: string, body?: unknown): Promise<Response> {
  const d = deadline(30_000);
  try {
    const res = await fetch(api(t, p), {
      method,
      headers: { authorization: `token ${t.token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: d.signal,
    });
    if (!res.ok) throw new Error(`${method} ${p}: HTTP ${res.status} ${await res.text()}`);
    // Read the body while the deadline still holds.
    const text = await res.text();
    const empty = res.status === 204 || res.status === 205 || res.status === 304;
    return new Response(empty ? null : text, { status: res.status, headers: res.headers });
  } finally {
    d.clear();
  }
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
  const wsUrl = api(t, `kernels/${kernelId}/channels`).replace(/^http/, "ws");
  const ws = new WebSocket(wsUrl, { headers: { authorization: `token ${t.token}` } });
  const msgId = randomUUID();
  const session = randomUUID();
  const out: ExecuteResult = { status: "ok", stdout: "" };
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
      else if (msg.msg_type === "execute_result") out.result = String((msg.content.data as Record<string, unknown>)["text/plain"] ?? "");
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

/**
 * Helpers of the live-server integration tests (server/servers/*.test.ts) and of the bench: a real stack
 * (e2e/stack.ts), real accounts, an activity with a notebook and its CSV annex, copies, session cookies obtained
 * through next-auth's own credentials endpoint, and a kernel WebSocket client that goes through the proxy.
 * Nothing here is mocked. Not a test file itself (no `.test.ts`), imported by them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import yauzl from "yauzl";
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import type { Stack } from "@/e2e/stack";
import { notebookOrigin as originOf, parseNotebookSite } from "@/proxy/hosts";
import { loopbackLookup, loopFetch } from "@/proxy/test-helpers";
import { serverIdOf } from "./server-id";
import { signInCookie } from "../testing/session";

export { loopFetch };

export const PASSWORD = "un-mot-de-passe-solide-42";
export const CORPUS = path.resolve(import.meta.dirname, "../../../shared/corpus/courses/premiere_nsi/T5_Traitement_de_donnees");
export const NOTEBOOK_NAME = "Exercice CSV.ipynb";
export const CSV_NAME = "exemple.csv";

/** The corpus notebook if present, else a small one; either way a valid nbformat 4 notebook. */
export function notebookBytes(): Buffer {
  const f = path.join(CORPUS, "01_Manipulation_csv_version_eleve.ipynb");
  if (fs.existsSync(f)) return fs.readFileSync(f);
  return Buffer.from(
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" } },
      cells: [{ cell_type: "markdown", id: "intro", metadata: {}, source: ["# Fichiers CSV"] }],
    }),
  );
}

export function csvBytes(): Buffer {
  const f = path.join(CORPUS, "data", CSV_NAME);
  if (fs.existsSync(f)) return fs.readFileSync(f);
  return Buffer.from("Prénom,Nom,Email,SMS\nJohn,Smith,john@example.com,33123456789\nHarry,Pierce,harry@example.com,33111222222\n");
}

/** Polls `fn` until it returns a truthy value; throws with `what` after `timeoutMs`. Waits for the thing, not a clock. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface Activity {
  id: string;
  code: string;
  shareUrl: string;
}

/** Creates an activity through the REST API (multipart, PAT), the notebook and the CSV annex. */
export async function createActivity(stack: Stack, pat: string, title = "Fichiers CSV", description = ""): Promise<Activity> {
  const form = new FormData();
  form.set("title", title);
  if (description) form.set("description", description);
  form.set("notebook", new Blob([new Uint8Array(notebookBytes())], { type: "application/x-ipynb+json" }), NOTEBOOK_NAME);
  form.append("annexes", new Blob([new Uint8Array(csvBytes())], { type: "text/csv" }), CSV_NAME);
  const res = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${pat}` }, body: form });
  if (res.status !== 201) throw new Error(`create activity: ${res.status} ${await res.text()}`);
  return (await res.json()) as Activity;
}

/** Opens (creates if needed) the caller's copy for a share code; returns the copy id. */
export async function openCopy(stack: Stack, pat: string, code: string): Promise<string> {
  const res = await fetch(`${stack.url}/api/v1/open/${encodeURIComponent(code)}`, { method: "POST", headers: { authorization: `Bearer ${pat}` } });
  if (!res.ok) throw new Error(`open copy: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export interface ServerStatusJson {
  status: "stopped" | "starting" | "running";
  url: string;
  /** The copy's Jupyter server on its own host, for scripts with a personal access token. */
  baseUrl: string;
  error: string | null;
  memoryMb: number | null;
  lastActivity: string | null;
  startedAt: string | null;
}

export const serverApi = (stack: Stack, copyId: string) => `${stack.url}/api/v1/copies/${encodeURIComponent(copyId)}/server`;

export async function serverStatus(stack: Stack, pat: string, copyId: string): Promise<ServerStatusJson> {
  const res = await fetch(serverApi(stack, copyId), { headers: { authorization: `Bearer ${pat}` } });
  if (!res.ok) throw new Error(`GET server: ${res.status} ${await res.text()}`);
  return (await res.json()) as ServerStatusJson;
}

/** POST /server then follows GET until running; throws on "stopped" (start failed) with the student's message. */
export async function startServer(stack: Stack, pat: string, copyId: string, timeoutMs = 90_000): Promise<ServerStatusJson> {
  const res = await fetch(serverApi(stack, copyId), { method: "POST", headers: { authorization: `Bearer ${pat}` } });
  if (res.status !== 200 && res.status !== 202) throw new Error(`POST server: ${res.status} ${await res.text()}`);
  return waitFor(
    `server of ${copyId} running`,
    async () => {
      const s = await serverStatus(stack, pat, copyId);
      if (s.status === "stopped") throw Object.assign(new Error(`start failed: ${s.error}`), { fatal: true });
      return s.status === "running" ? s : null;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\n--- portal log (tail) ---\n${stack.logs().slice(-4000)}`);
  });
}

/** A browser session cookie, obtained through next-auth's own credentials form (see server/testing/session.ts). */
export async function sessionCookie(stack: Stack, username: string, password = PASSWORD): Promise<string> {
  return signInCookie(stack.url, username, password);
}

/** The origin a copy's notebook is served from on this stack (http://<label>.nb.localhost:<port> by default). */
export function notebookOrigin(stack: Stack, copyId: string): string {
  return originOf(parseNotebookSite(stack.env.CARNET_NOTEBOOK_URL, stack.url), copyId);
}

/** A URL of the copy's Jupyter server on its own host: `nbUrl(stack, id, "api/contents")`. */
export function nbUrl(stack: Stack, copyId: string, rel = ""): string {
  return `${notebookOrigin(stack, copyId)}/nb/${copyId}/${rel}`;
}

/**
 * The notebook host's session cookie for a user, obtained as a browser gets it: a page of the copy without it
 * (state cookie, redirect to the portal), the portal's /nb-auth with the user's portal session (one-time code), the
 * host's callback. Returns "carnet-nb=<value>"; send it with `origin: notebookOrigin(stack, copyId)`.
 */
export async function notebookCookie(stack: Stack, username: string, copyId: string, password = PASSWORD, options: { edit?: boolean } = {}): Promise<string> {
  const first = await loopFetch(nbUrl(stack, copyId, "tree"), { headers: { accept: "text/html" } });
  // « Modifier quand même »: the teacher's hand-over asks the portal for a writable session (docs/proxy.md).
  const toPortal = `${first.headers.get("location") ?? ""}${options.edit ? "&edit=1" : ""}`;
  const state = first.headers.getSetCookie()[0]?.split(";")[0] ?? "";
  if (first.status !== 302 || !toPortal.startsWith(`${stack.url}/nb-auth/`)) throw new Error(`hand-over did not start: ${first.status} ${toPortal}`);
  const portal = await fetch(toPortal, { headers: { cookie: await sessionCookie(stack, username, password) }, redirect: "manual" });
  const callback = portal.headers.get("location") ?? "";
  if (portal.status !== 302 || !callback.startsWith(notebookOrigin(stack, copyId))) throw new Error(`portal refused the hand-over: ${portal.status} ${callback}`);
  const done = await loopFetch(callback, { headers: { cookie: state } });
  const cookie = done.headers.getSetCookie().find((c) => /^(__Host-)?carnet-nb=/.test(c));
  if (done.status !== 302 || !cookie) throw new Error(`hand-over failed: ${done.status} ${await done.text()}`);
  return cookie.split(";")[0]!;
}

/** Starts a python3 kernel on a copy's server, through the proxy (PAT: no Origin needed). */
export async function startKernel(stack: Stack, pat: string, copyId: string): Promise<string> {
  const res = await loopFetch(nbUrl(stack, copyId, "api/kernels"), {
    method: "POST",
    headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "python3" }),
  });
  if (res.status !== 201) throw new Error(`start kernel: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

export const kernelWsUrl = (stack: Stack, copyId: string, kernelId: string) =>
  nbUrl(stack, copyId, `api/kernels/${kernelId}/channels`).replace(/^http/, "ws");

/**
 * Tries a WebSocket upgrade; resolves with "open" or the HTTP status of the refusal. The socket is closed after.
 */
export function tryUpgrade(url: string, headers: Record<string, string>): Promise<"open" | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers, lookup: loopbackLookup });
    ws.on("open", () => {
      ws.close();
      resolve("open");
    });
    ws.on("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.on("error", (err) => reject(err));
  });
}

/** A kernel channels WebSocket kept open (as the notebook page keeps it), that can run code many times. */
export class KernelSocket {
  private readonly session = randomUUID();
  private constructor(readonly ws: WebSocket) {}

  static open(url: string, headers: Record<string, string>): Promise<KernelSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, lookup: loopbackLookup });
      ws.once("open", () => resolve(new KernelSocket(ws)));
      ws.once("unexpected-response", (_q, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
      ws.once("error", reject);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Runs code; resolves with stdout + text/plain result, "died" when the kernel restarts or dies meanwhile. */
  execute(code: string, timeoutMs = 60_000): Promise<{ status: "ok" | "error" | "died"; text: string; error?: string }> {
    const msgId = randomUUID();
    return new Promise((resolve, reject) => {
      let text = "";
      let error: string | undefined;
      let replied = false;
      let idle = false;
      let status: "ok" | "error" = "ok";
      const finish = (v: { status: "ok" | "error" | "died"; text: string; error?: string } | Error) => {
        clearTimeout(timer);
        this.ws.off("message", onMessage);
        this.ws.off("close", onClose);
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      const timer = setTimeout(() => finish(new Error(`kernel did not answer ${JSON.stringify(code)} in ${timeoutMs} ms`)), timeoutMs);
      const onClose = () => finish(new Error("kernel WebSocket closed"));
      const onMessage = (raw: WebSocket.RawData) => {
        const msg = JSON.parse(raw.toString()) as { msg_type: string; parent_header: { msg_id?: string }; content: Record<string, unknown> };
        if (msg.msg_type === "status" && (msg.content.execution_state === "restarting" || msg.content.execution_state === "dead"))
          return finish({ status: "died", text });
        if (msg.parent_header.msg_id !== msgId) return;
        if (msg.msg_type === "stream") text += String(msg.content.text ?? "");
        else if (msg.msg_type === "execute_result") text += String((msg.content.data as Record<string, unknown>)["text/plain"] ?? "");
        else if (msg.msg_type === "error") {
          status = "error";
          error = `${String(msg.content.ename)}: ${String(msg.content.evalue)}`;
        } else if (msg.msg_type === "execute_reply") replied = true;
        else if (msg.msg_type === "status" && msg.content.execution_state === "idle") idle = true;
        if (replied && idle) finish({ status, text, ...(error ? { error } : {}) });
      };
      this.ws.on("message", onMessage);
      this.ws.on("close", onClose);
      this.ws.send(
        JSON.stringify({
          header: { msg_id: msgId, msg_type: "execute_request", session: this.session, username: "carnet-test", version: "5.3", date: new Date().toISOString() },
          parent_header: {},
          metadata: {},
          content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          channel: "shell",
          buffers: [],
        }),
      );
    });
  }

  close(): void {
    this.ws.close();
  }
}

/** The running server's pid from the local backend's state file (root-only folder of the data dir). */
export function localServerPid(stack: Stack, copyId: string): number {
  const file = path.join(stack.dataDir, "servers", "local", serverIdOf(copyId), "state.json");
  return (JSON.parse(fs.readFileSync(file, "utf8")) as { pid: number }).pid;
}

/** Is this pid alive? (signal 0) */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The copy folder and its notebook file on disk. */
export function copyNotebookFile(stack: Stack, copyId: string): string {
  const dir = path.join(stack.dataDir, "copies", copyId);
  const nb = fs.readdirSync(dir).find((f) => f.endsWith(".ipynb"));
  if (!nb) throw new Error(`no notebook in ${dir}: ${fs.readdirSync(dir).join(", ")}`);
  return path.join(dir, nb);
}

/** Saves a notebook through the Jupyter contents API via the proxy (PAT), as the UI's save does. */
export async function saveNotebook(stack: Stack, pat: string, copyId: string, name: string, content: unknown): Promise<void> {
  const res = await loopFetch(nbUrl(stack, copyId, `api/contents/${encodeURIComponent(name)}`), {
    method: "PUT",
    headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "notebook", format: "json", content }),
  });
  if (!res.ok) throw new Error(`save: ${res.status} ${await res.text()}`);
}

/**
 * Stops every live server of a stack (they outlive a portal stop by design: the next portal adopts them), through
 * the API: the admin lists them, the activity's teacher stops each. Call before `stack.stop()`.
 */
export async function stopAllServers(stack: Stack, teacherPat: string): Promise<void> {
  await stack.addUser("nettoyage-admin", "admin", PASSWORD).catch(() => undefined);
  const admin = await stack.token("nettoyage-admin");
  const res = await fetch(`${stack.url}/api/v1/servers`, { headers: { authorization: `Bearer ${admin}` } });
  if (!res.ok) return;
  for (const s of (await res.json()) as { copyId: string }[])
    await fetch(`${stack.url}/api/v1/copies/${s.copyId}/server`, { method: "DELETE", headers: { authorization: `Bearer ${teacherPat}` } });
}

/** Stops the stack's servers, the stack, and removes its data directory. */
export async function teardown(stack: Stack | undefined, teacherPat: string | undefined): Promise<void> {
  if (!stack) return;
  if (teacherPat) await stopAllServers(stack, teacherPat).catch((err) => console.warn(`stopping servers: ${String(err)}`));
  await stack.stop();
  fs.rmSync(stack.dataDir, { recursive: true, force: true });
}

/** Every entry of a zip (the teacher's download, a hand-in), name and bytes, read with yauzl. */
export function unzipEntries(buf: Buffer): Promise<{ name: string; data: Buffer }[]> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(buf, { lazyEntries: true, decodeStrings: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error("no zip"));
      const out: { name: string; data: Buffer }[] = [];
      zip.on("entry", (e: yauzl.Entry) => {
        zip.openReadStream(e, (err2, st) => {
          if (err2 || !st) return reject(err2 ?? new Error("no stream"));
          const chunks: Buffer[] = [];
          st.on("data", (c: Buffer) => chunks.push(c));
          st.on("end", () => {
            out.push({ name: e.fileName, data: Buffer.concat(chunks) });
            zip.readEntry();
          });
          st.on("error", reject);
        });
      });
      zip.on("end", () => resolve(out));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

/**
 * A fresh data directory for startStack({ dataDir }) as a site's would be: 0711, so students' servers (their own
 * uids) traverse it to reach their copy without listing it.
 */
export function siteDataDir(prefix: string): string {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dataDir, 0o711);
  return dataDir;
}

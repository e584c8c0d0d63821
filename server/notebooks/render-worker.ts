/**
 * The body of a render worker thread: parses, validates and renders one notebook per message, synchronously (the
 * pool sends the next one only after the answer). Anything slow here only slows this thread; the pool terminates
 * it past the time budget. Messages: see render-pool.ts (WorkerRequest -> WorkerReply).
 */
import { parentPort } from "node:worker_threads";
import { isAppError } from "../errors";
import { renderNotebook } from "./render";
import { assetLink } from "./render-assets";
import { parseNotebook } from "./validate";
import type { WorkerReply, WorkerRequest } from "./render-pool";

const port = parentPort;
if (!port) throw new Error("render-worker.ts runs in a worker thread only");

port.on("message", (req: WorkerRequest) => {
  const started = performance.now();
  let reply: WorkerReply;
  try {
    const bytes = Buffer.from(req.bytes.buffer, req.bytes.byteOffset, req.bytes.byteLength);
    const { notebook } = parseNotebook(bytes, req.name);
    const assets = req.assets;
    const { html, complete } = renderNotebook(notebook, {
      assetUrl: assets ? (rel) => assetLink(assets, rel) : undefined,
      downloadUrl: req.downloadUrl,
      limits: req.limits,
      // parsing counts too: the budget is for the whole request
      deadline: started + req.softBudgetMs,
    });
    reply = { id: req.id, kind: "html", html, complete };
  } catch (e) {
    reply = isAppError(e)
      ? { id: req.id, kind: "invalid", message: e.message }
      : { id: req.id, kind: "error", message: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 300) : "erreur" };
  }
  port.postMessage(reply);
});
port.postMessage({ kind: "ready" } satisfies WorkerReply);

/** Structured logs (pino). Never log tokens, passwords or query strings. */
import pino from "pino";

const KEY = Symbol.for("carnet.logger");
type G = typeof globalThis & { [KEY]?: pino.Logger };

export const logger: pino.Logger = ((globalThis as G)[KEY] ??= pino({
  level: process.env.LOG_LEVEL ?? "info",
  base: { app: "carnet" },
  redact: { paths: ["token", "password", "*.token", "*.password", "authorization", "cookie"], censor: "[redacted]" },
}));

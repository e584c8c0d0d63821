/** The proxy's structured logger (pino). Never log tokens, cookies, Authorization headers or query strings. */
import pino from "pino";

/** Creates the proxy's root logger; tokens and cookies are redacted even if a caller logs them by mistake. */
export function createLogger(level: string): pino.Logger {
  return pino({
    level,
    base: { app: "carnet-proxy" },
    redact: {
      paths: ["token", "*.token", "authorization", "*.authorization", "cookie", "*.cookie", "secret", "*.secret"],
      censor: "[redacted]",
    },
  });
}

export type Logger = pino.Logger;

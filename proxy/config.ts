/**
 * The proxy's configuration, parsed once at start-up from the environment with zod.
 * The proxy is its own process: it reads only its own variables (see docs/proxy.md).
 */
import path from "node:path";
import { z } from "zod";
import { NotebookUrlError, parseNotebookSite, type NotebookSite } from "./hosts";

const port = z.coerce
  .number({ message: "doit être un numéro de port" })
  .int("doit être un entier")
  .min(0, "doit être compris entre 0 et 65535")
  .max(65535, "doit être compris entre 0 et 65535");

const secret = (name: string) =>
  z
    .string({ message: `${name} est obligatoire` })
    .min(32, "doit faire au moins 32 caractères");

const schema = z.object({
  PORT: port.default(3000),
  CARNET_HOST: z.string().min(1).default("127.0.0.1"),
  CARNET_INTERNAL_PORT: port.optional(),
  CARNET_PROXY_API_PORT: port.optional(),
  CARNET_PROXY_SECRET: secret("CARNET_PROXY_SECRET"),
  CARNET_PUBLIC_URL: z
    .url({ protocol: /^https?$/, message: "doit être une URL http(s), par exemple https://carnet.ac-paris.fr" })
    .optional(),
  CARNET_NOTEBOOK_URL: z.string().optional(),
  CARNET_COOKIE_SAMESITE: z.enum(["lax", "strict", "none"]).default("lax"),
  CARNET_DATA_DIR: z.string().min(1).default("./data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CARNET_JUPYTER_FILES_DIR: z.string().min(1).optional(),
  CARNET_PROXY_STATIC_FILES: z.enum(["on", "off"]).default("on"),
});

/** The parsed configuration that startProxy() takes. Ports may be 0 (pick a free port; see ProxyHandle.ports). */
export interface ProxyConfig {
  /** Public port (the only one browsers reach). */
  port: number;
  /** Address the public port binds to. */
  host: string;
  /** Next.js, on 127.0.0.1. */
  internalPort: number;
  /** The internal route API, always bound to 127.0.0.1. */
  apiPort: number;
  /** Shared with the portal: route API bearer and x-carnet-proxy-secret for /api/internal/whoami and nb-code. */
  proxySecret: string;
  /** Carnet's public URL without trailing slash: the portal's origin. */
  publicUrl: string;
  /** Where copies' notebooks are served (CARNET_NOTEBOOK_URL; see proxy/hosts.ts). */
  notebookSite: NotebookSite;
  /** The portal may be framed by other sites (an LMS; CARNET_COOKIE_SAMESITE=none): no frame-ancestors 'none'. */
  portalFramable: boolean;
  /** Absolute data directory; routes live in <dataDir>/proxy/routes.json. */
  dataDir: string;
  logLevel: string;
  /**
   * The notebook page's static files answered by the proxy from root-owned files (proxy/static.ts; default on;
   * CARNET_PROXY_STATIC_FILES=off sends them to each student's Jupyter as before).
   */
  staticFiles?: boolean;
  /** Carnet's Jupyter files (custom.js…): CARNET_JUPYTER_FILES_DIR, else <cwd>/jupyter-image, as the spawner reads them. */
  jupyterFilesDir?: string;
}

export class ProxyConfigError extends Error {
  override name = "ProxyConfigError";
}

/**
 * Parses an environment (process.env by default) into a ProxyConfig.
 * Throws ProxyConfigError listing every bad variable, in French, one per line.
 */
export function parseProxyConfig(source: Record<string, string | undefined> = process.env): ProxyConfig {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".") || "(env)"} : ${i.message}`);
    throw new ProxyConfigError(`Configuration du proxy invalide :\n${lines.join("\n")}\nVoir docs/proxy.md.`);
  }
  const e = result.data;
  const internalPort = e.CARNET_INTERNAL_PORT ?? e.PORT + 1;
  const apiPort = e.CARNET_PROXY_API_PORT ?? e.PORT + 2;
  if (internalPort > 65535 || apiPort > 65535) {
    throw new ProxyConfigError(
      "Configuration du proxy invalide :\n  PORT : trop grand pour en déduire CARNET_INTERNAL_PORT et CARNET_PROXY_API_PORT (PORT+1, PORT+2)",
    );
  }
  const publicUrl = (e.CARNET_PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/+$/, "");
  let notebookSite: NotebookSite;
  try {
    notebookSite = parseNotebookSite(e.CARNET_NOTEBOOK_URL, publicUrl);
  } catch (err) {
    if (!(err instanceof NotebookUrlError)) throw err;
    throw new ProxyConfigError(`Configuration du proxy invalide :\n  CARNET_NOTEBOOK_URL : ${err.message}\nVoir docs/proxy.md.`);
  }
  return {
    port: e.PORT,
    host: e.CARNET_HOST,
    internalPort,
    apiPort,
    proxySecret: e.CARNET_PROXY_SECRET,
    publicUrl,
    notebookSite,
    portalFramable: e.CARNET_COOKIE_SAMESITE === "none",
    dataDir: path.resolve(e.CARNET_DATA_DIR),
    logLevel: e.LOG_LEVEL,
    staticFiles: e.CARNET_PROXY_STATIC_FILES === "on",
    jupyterFilesDir: path.resolve(e.CARNET_JUPYTER_FILES_DIR ?? path.join(process.cwd(), "jupyter-image")),
  };
}

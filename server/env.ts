/**
 * Carnet's configuration: every environment variable, parsed once with zod, with a clear message per bad value.
 * Code reads `env()`, never process.env. The proxy (its own process) parses its own few variables.
 */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import net from "node:net";
import { z } from "zod";
import { NotebookUrlError, parseNotebookSite, type NotebookSite } from "../proxy/client";

const bool = z
  .enum(["1", "0", "true", "false", "yes", "no", "on", "off"], { message: "doit valoir true ou false" })
  .transform((v) => ["1", "true", "yes", "on"].includes(v));
const port = z.coerce.number().int().min(1).max(65535);
const positive = z.coerce.number().positive();

/**
 * CARNET_TRUSTED_PROXIES: addresses or CIDR ranges of the site's own reverse proxies, separated by commas or spaces
 * ("10.0.0.5, 192.168.1.0/24, 2001:db8::/48"). Parsed to "address/prefix" strings (server/rate-limit.ts clientAddress).
 */
const trustedProxies = z
  .string()
  .transform((raw, ctx) => {
    const out: string[] = [];
    for (const item of raw.split(/[\s,]+/).filter(Boolean)) {
      const [addr = "", prefix, extra] = item.split("/");
      const family = net.isIP(addr);
      const bits = prefix === undefined ? (family === 6 ? 128 : 32) : Number(prefix);
      if (!family || extra !== undefined || (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32)) {
        ctx.addIssue({ code: "custom", message: `« ${item} » n'est ni une adresse IP ni une plage CIDR (par exemple 10.0.0.5 ou 10.0.0.0/8)` });
        return z.NEVER;
      }
      out.push(`${addr.toLowerCase()}/${bits}`);
    }
    return out;
  });

const fields = z.object({
  PORT: port.default(3000),
  CARNET_HOST: z.string().default("127.0.0.1"),
  CARNET_PUBLIC_URL: z.url({ message: "doit être une URL, par exemple https://carnet.ac-paris.fr" }).optional(),
  CARNET_INTERNAL_PORT: port.optional(),
  CARNET_PROXY_API_PORT: port.optional(),
  CARNET_DATA_DIR: z.string().min(1).default("./data"),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "doit commencer par postgresql:// (laisser vide pour la base embarquée PGlite)")
    .optional(),
  AUTH_SECRET: z.string().min(32, "doit faire au moins 32 caractères").optional(),
  CARNET_PROXY_SECRET: z.string().min(32, "doit faire au moins 32 caractères").optional(),
  CARNET_MAX_NOTEBOOK_MB: positive.default(20),
  CARNET_MAX_ACTIVITY_MB: positive.default(200),
  CARNET_MAX_ZIP_ENTRIES: z.coerce.number().int().positive().default(5000),
  CARNET_LOCAL_ACCOUNTS: bool.default(true),
  CARNET_SSO_CONFIG: z.string().optional(),
  /** Inline JSON alternative to CARNET_SSO_CONFIG (see docs/sso.md). */
  CARNET_SSO_JSON: z.string().optional(),
  CARNET_COOKIE_SAMESITE: z.enum(["lax", "strict", "none"]).default("lax"),
  /** Where students' live notebooks are served, one host per copy (proxy/hosts.ts, docs/proxy.md). */
  CARNET_NOTEBOOK_URL: z.string().optional(),
  CARNET_TRUSTED_PROXIES: trustedProxies.default([]),
  CARNET_SPAWNER: z.enum(["local", "docker"]).default("local"),
  CARNET_JUPYTER_IMAGE: z.string().default("carnet-jupyter:latest"),
  CARNET_DOCKER_HOST: z.string().optional(),
  /** A folder of data shared by every activity, mounted read-only in students' containers at /home/jovyan/donnees. */
  CARNET_SHARED_DATA_DIR: z.string().optional(),
  CARNET_IDLE_TIMEOUT_MIN: positive.default(60),
  CARNET_MAX_AGE_HOURS: positive.default(12),
  CARNET_MAX_SERVERS: z.coerce.number().int().positive().default(200),
  /** Live servers one student may run at once (servers a teacher opened on their copies do not count). */
  CARNET_MAX_SERVERS_PER_STUDENT: z.coerce.number().int().positive().default(2),
  /** Disk space of one copy folder; over it the copy's server is stopped (files kept). Must exceed CARNET_MAX_ACTIVITY_MB. */
  CARNET_COPY_QUOTA_MB: positive.default(300),
  /** Local backend run by a non-root portal: students' servers run as the portal's own user only if the site says so. */
  CARNET_ALLOW_SHARED_UID: bool.default(false),
  CARNET_SERVER_MEMORY_MB: z.coerce.number().int().positive().default(1024),
  CARNET_SERVER_CPUS: positive.default(1),
  CARNET_START_TIMEOUT_S: positive.default(60),
  /** Server starts run at once at most (the others wait their turn, first come first served); default: the cores. */
  CARNET_START_CONCURRENCY: z.coerce.number().int().positive().optional(),
  /** Prepared sessions (« Préparer la séance »): servers started ahead and not used within this many minutes are stopped. */
  CARNET_PREPARE_TTL_MIN: positive.default(20),
  /** An activity with an opening date is prepared by itself: pool slots this many minutes before, copies' servers at the opening. */
  CARNET_PREPARE_LEAD_MIN: z.coerce.number().min(0).default(5),
  /**
   * Warm pool (docs/operations.md « The warm pool »): Jupyter servers kept started with no student, each handed to the
   * next student who opens a link for the first time. 0 disables it; the admin page's setting overrides it.
   */
  CARNET_POOL_SIZE: z.coerce.number().int().min(0).max(500).default(0),
  CARNET_RECONCILE_INTERVAL_S: positive.default(30),
  /** History of copies (docs/history.md): how often running copies are looked at for new saves. */
  CARNET_HISTORY_INTERVAL_S: positive.default(30),
  /** Saves older than this many days are forgotten (0: kept as long as the copy), except the points undo needs. */
  CARNET_HISTORY_KEEP_DAYS: z.coerce.number().min(0).default(0),
  /** At most this many points per copy: the oldest saves go first. */
  CARNET_HISTORY_MAX_POINTS: z.coerce.number().int().positive().default(1000),
  /** Files larger than this (annexes; the notebook up to 64 Mo) and files past the count are listed, not kept. */
  CARNET_HISTORY_MAX_FILE_MB: positive.default(20),
  CARNET_HISTORY_MAX_FILES: z.coerce.number().int().positive().default(500),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});
const schema = fields.refine((e) => e.CARNET_COPY_QUOTA_MB > e.CARNET_MAX_ACTIVITY_MB, {
  path: ["CARNET_COPY_QUOTA_MB"],
  message: "doit dépasser CARNET_MAX_ACTIVITY_MB (une copie commence avec tous les fichiers de l'activité)",
});

export type Env = z.infer<typeof schema> & {
  dataDir: string;
  publicUrl: string;
  internalPort: number;
  proxyApiPort: number;
  authSecret: string;
  proxySecret: string;
  maxNotebookBytes: number;
  maxActivityBytes: number;
  notebookSite: NotebookSite;
  copyQuotaBytes: number;
};

export class ConfigError extends Error {}

/** Parses an environment (process.env by default). Throws ConfigError listing every bad variable. */
export function parseEnv(source: Record<string, string | undefined> = process.env): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const result = schema.safeParse(cleaned);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Configuration invalide :\n${lines.join("\n")}\nVoir docs/configuration.md.`);
  }
  const e = result.data;
  const publicUrl = (e.CARNET_PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`).replace(/\/+$/, "");
  let notebookSite: NotebookSite;
  try {
    notebookSite = parseNotebookSite(e.CARNET_NOTEBOOK_URL, publicUrl);
  } catch (err) {
    if (!(err instanceof NotebookUrlError)) throw err;
    throw new ConfigError(`Configuration invalide :\n  CARNET_NOTEBOOK_URL: ${err.message}\nVoir docs/configuration.md.`);
  }
  const dataDir = path.resolve(e.CARNET_DATA_DIR);
  return {
    ...e,
    dataDir,
    publicUrl,
    notebookSite,
    internalPort: e.CARNET_INTERNAL_PORT ?? e.PORT + 1,
    proxyApiPort: e.CARNET_PROXY_API_PORT ?? e.PORT + 2,
    authSecret: e.AUTH_SECRET ?? readOrCreateSecret(dataDir, "auth-secret"),
    proxySecret: e.CARNET_PROXY_SECRET ?? readOrCreateSecret(dataDir, "proxy-secret"),
    maxNotebookBytes: Math.round(e.CARNET_MAX_NOTEBOOK_MB * 1024 * 1024),
    maxActivityBytes: Math.round(e.CARNET_MAX_ACTIVITY_MB * 1024 * 1024),
    copyQuotaBytes: Math.round(e.CARNET_COPY_QUOTA_MB * 1024 * 1024),
  };
}

/** Secrets not given by the environment are generated once and kept in <data>/secrets (mode 0600). */
function readOrCreateSecret(dataDir: string, name: string): string {
  const dir = path.join(dataDir, "secrets");
  const file = path.join(dir, name);
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    // The data dir must stay traversable by students' uids (their copies are below it): 0711, never 0700.
    if (!fs.existsSync(dataDir)) fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secret = crypto.randomBytes(32).toString("base64url");
    try {
      fs.writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
      return secret;
    } catch {
      return fs.readFileSync(file, "utf8").trim(); // another process wrote it first
    }
  }
}

const KEY = Symbol.for("carnet.env");
type G = typeof globalThis & { [KEY]?: Env };

/** The parsed configuration of this process (parsed on first use). */
export function env(): Env {
  const g = globalThis as G;
  return (g[KEY] ??= parseEnv());
}

/** For tests and the CLI: replace the configuration of this process. */
export function setEnv(e: Env): void {
  (globalThis as G)[KEY] = e;
}

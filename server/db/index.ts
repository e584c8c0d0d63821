/**
 * The one Prisma client of this process, on PGlite (embedded default, data under <data>/pglite) or on a PostgreSQL
 * server (DATABASE_URL). Kept on globalThis because Next.js may load this module in more than one bundle layer:
 * two PGlite instances on one directory would corrupt it.
 */
import path from "node:path";
import fs from "node:fs";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaClient } from "../generated/prisma/client";
import { env } from "../env";
import { migrate, type SqlRunner } from "./migrate";
import { applySiteUmask, makePrivate } from "../data-dir";
import { logger } from "../logger";

export type Db = PrismaClient;

interface Handle {
  prisma: PrismaClient;
  runner: SqlRunner;
  ready: Promise<void>;
  close(): Promise<void>;
}

const KEY = Symbol.for("carnet.db");
type G = typeof globalThis & { [KEY]?: Handle };

/** Opens a database handle: `url` postgresql://... or a PGlite directory ("memory://" for in-memory). */
export function openDb(target: { url?: string; pgliteDir?: string }): Handle {
  if (target.url) {
    const pool = new pg.Pool({ connectionString: target.url, max: 10 });
    // An idle connection the server ends (PostgreSQL restarted, a failover, a dropped database) is reported on the
    // pool; without a listener it would be an uncaught exception that takes the whole portal down. The pool replaces it.
    pool.on("error", (err) => logger.warn({ err: { code: (err as NodeJS.ErrnoException).code, message: err.message } }, "database: an idle connection was closed by the server"));
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    const runner: SqlRunner = {
      async withLock(fn) {
        const client = await pool.connect();
        try {
          // A session-level advisory lock: two portals starting at once apply migrations one after the other.
          await client.query("SELECT pg_advisory_lock(727073697)");
          try {
            return await fn({
              query: async (sql, params) => (await client.query(sql, params as unknown[])).rows,
              exec: async (sql) => void (await client.query(sql)),
            });
          } finally {
            await client.query("SELECT pg_advisory_unlock(727073697)");
          }
        } finally {
          client.release();
        }
      },
    };
    const handle: Handle = {
      prisma,
      runner,
      ready: Promise.resolve(),
      close: async () => {
        await prisma.$disconnect();
        await pool.end();
      },
    };
    return handle;
  }
  const dir = target.pgliteDir ?? "memory://";
  if (!dir.startsWith("memory://")) {
    // The database files must not be readable by students' servers (same machine, other uids): PGlite writes
    // 0666 files, so this process gets the site's umask and the folder is the portal's alone (server/data-dir.ts).
    applySiteUmask();
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fs.chmodSync(dir, 0o700);
  }
  // PostgreSQL's default 128 MB of shared buffers are all touched at start inside PGlite's WebAssembly memory (about
  // 125 MiB of the portal's resident memory); 16 MB cache a school's database, and the operating system caches the
  // files below it (docs/operations.md, "Weight").
  const lite = new PGlite(dir, { startParams: [...PGlite.defaultStartParams, "-c", "shared_buffers=16MB"] });
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(lite) });
  const runner: SqlRunner = {
    // One in-process connection: the lock is PGlite's own serialisation.
    withLock: (fn) =>
      fn({
        query: async (sql, params) => (await lite.query(sql, params as unknown[])).rows as Record<string, unknown>[],
        exec: async (sql) => void (await lite.exec(sql)),
      }),
  };
  return {
    prisma,
    runner,
    // PGlite's first start unpacks its files 0666 whatever the umask: make them private once it has.
    ready: lite.waitReady.then(() => void (dir.startsWith("memory://") || makePrivate(dir))),
    close: async () => {
      await prisma.$disconnect();
      await lite.close();
    },
  };
}

function handle(): Handle {
  const g = globalThis as G;
  if (!g[KEY]) {
    const e = env();
    g[KEY] = openDb(e.DATABASE_URL ? { url: e.DATABASE_URL } : { pgliteDir: path.join(e.dataDir, "pglite") });
  }
  return g[KEY];
}

/** The Prisma client of this process. */
export function db(): PrismaClient {
  return handle().prisma;
}

let migrated: Promise<void> | undefined;
/** Applies pending migrations once per process; safe to call from every entry point. */
export function ensureMigrated(): Promise<void> {
  const h = handle();
  migrated ??= h.ready.then(() => migrate(h.runner)).then(() => undefined);
  return migrated;
}

/** Closes this process's database (CLI commands and tests). */
export async function closeDb(): Promise<void> {
  const g = globalThis as G;
  const h = g[KEY];
  g[KEY] = undefined;
  migrated = undefined;
  if (h) await h.close();
}

/** Replace the process database (tests). */
export function useDb(h: Handle): void {
  (globalThis as G)[KEY] = h;
  migrated = undefined;
}

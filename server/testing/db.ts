/**
 * Test databases: every database test runs against PGlite (in memory) and against the real PostgreSQL server
 * (CARNET_TEST_PG_ADMIN_URL, set by scripts/test.sh), each test file on a fresh database it drops afterwards.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import pg from "pg";
import { openDb, useDb, ensureMigrated, closeDb } from "../db";
import { parseEnv, setEnv } from "../env";

export type DbKind = "pglite" | "postgresql";

export const dbKinds: DbKind[] = process.env.CARNET_TEST_PG_ADMIN_URL ? ["pglite", "postgresql"] : ["pglite"];
if (!process.env.CARNET_TEST_PG_ADMIN_URL)
  console.warn("AVERTISSEMENT : CARNET_TEST_PG_ADMIN_URL absent : tests PostgreSQL ignorés (./carnet test le fournit).");

export interface TestDb {
  kind: DbKind;
  dataDir: string;
  url?: string;
  close(): Promise<void>;
}

/** A fresh, migrated database of the given kind, installed as this process's database, with a temp data dir. */
export async function setupTestDb(kind: DbKind, extraEnv: Record<string, string> = {}): Promise<TestDb> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-test-"));
  let url: string | undefined;
  let drop = async () => {};
  if (kind === "postgresql") {
    const admin = process.env.CARNET_TEST_PG_ADMIN_URL!;
    const name = `carnet_t_${crypto.randomBytes(6).toString("hex")}`;
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const u = new URL(admin);
    u.pathname = `/${name}`;
    url = u.toString();
    drop = async () => {
      const c2 = new pg.Client({ connectionString: admin });
      await c2.connect();
      // pg's pool.end() resolves before its clients' sockets close: let them go, or FORCE kills them mid-goodbye
      // and their error surfaces as an uncaught exception in the test.
      for (let i = 0; i < 50; i++) {
        const { rows } = await c2.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1", [name]);
        if ((rows[0] as { n: number }).n === 0) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await c2.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c2.end();
    };
  }
  setEnv(
    parseEnv({
      CARNET_DATA_DIR: dataDir,
      CARNET_PUBLIC_URL: "http://127.0.0.1:39999",
      AUTH_SECRET: "test-secret-test-secret-test-secret-0123",
      CARNET_PROXY_SECRET: "proxy-secret-proxy-secret-proxy-secret-0",
      ...(url ? { DATABASE_URL: url } : {}),
      ...extraEnv,
    }),
  );
  useDb(openDb(url ? { url } : { pgliteDir: "memory://" }));
  await ensureMigrated();
  return {
    kind,
    dataDir,
    url,
    async close() {
      await closeDb();
      await drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

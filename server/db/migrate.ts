/**
 * Applies the SQL migrations in prisma/migrations (Prisma's layout) and records them in `_prisma_migrations`,
 * exactly as `prisma migrate deploy` would, so that sites with Prisma's native engine can keep using it.
 * Prisma 7's CLI cannot run migrations offline (it downloads a native schema engine): see docs/database.md.
 */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { sha256 } from "../ids";

export interface SqlConn {
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  exec(sql: string): Promise<void>;
}
/** Runs fn holding a lock that excludes other portals migrating the same database. */
export interface SqlRunner {
  withLock<T>(fn: (c: SqlConn) => Promise<T>): Promise<T>;
}

export const MIGRATIONS_DIR = path.resolve(
  process.env.CARNET_MIGRATIONS_DIR ?? path.join(process.cwd(), "prisma", "migrations"),
);

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, "migration.sql")))
    .map((d) => d.name)
    .sort()
    .map((name) => {
      const sql = fs.readFileSync(path.join(dir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: sha256(sql) };
    });
}

const TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

/**
 * Applies every migration not yet recorded, each in its own transaction. Idempotent; returns the names applied.
 * Throws if a recorded migration's file changed (checksum) or a previous attempt failed half-way.
 */
export async function migrate(runner: SqlRunner, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = listMigrations(dir);
  return runner.withLock(async (c) => {
    await c.exec(TABLE);
    const rows = await c.query(
      `SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"`,
    );
    const done = new Map(rows.filter((r) => r.rolled_back_at == null).map((r) => [String(r.migration_name), r]));
    const applied: string[] = [];
    for (const m of migrations) {
      const row = done.get(m.name);
      if (row) {
        if (row.finished_at == null)
          throw new Error(`La migration ${m.name} a échoué lors d'une tentative précédente : réparez la base à la main.`);
        if (row.checksum !== m.checksum)
          throw new Error(`La migration ${m.name} a été modifiée après avoir été appliquée (somme de contrôle différente).`);
        continue;
      }
      const id = crypto.randomUUID();
      await c.exec("BEGIN");
      try {
        await c.exec(m.sql);
        await c.query(
          `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, finished_at, applied_steps_count)
           VALUES ($1, $2, $3, now(), 1)`,
          [id, m.checksum, m.name],
        );
        await c.exec("COMMIT");
      } catch (e) {
        await c.exec("ROLLBACK");
        throw new Error(`Échec de la migration ${m.name} : ${(e as Error).message}`);
      }
      applied.push(m.name);
    }
    return applied;
  });
}

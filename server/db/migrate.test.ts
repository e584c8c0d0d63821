import { describe, it, expect, afterAll } from "vitest";
import pg from "pg";
import crypto from "node:crypto";
import { openDb } from "./index";
import { listMigrations, migrate } from "./migrate";

const admin = process.env.CARNET_TEST_PG_ADMIN_URL;

describe("migrations on PGlite", () => {
  it("creates every table, records each migration like Prisma, and is idempotent", async () => {
    const h = openDb({ pgliteDir: "memory://" });
    await h.ready;
    const first = await migrate(h.runner);
    expect(first).toEqual(listMigrations().map((m) => m.name));
    expect(await migrate(h.runner)).toEqual([]);
    const rows = await h.runner.withLock((c) => c.query(`SELECT migration_name, checksum, finished_at FROM "_prisma_migrations"`));
    expect(rows.map((r) => r.migration_name)).toEqual(first);
    expect(rows.every((r) => r.finished_at !== null && String(r.checksum).length === 64)).toBe(true);
    expect(await h.prisma.user.count()).toBe(0);
    await h.close();
  });
});

describe.skipIf(!admin)("migrations on a PostgreSQL server", () => {
  const name = `carnet_mig_${crypto.randomBytes(5).toString("hex")}`;
  const url = admin ? Object.assign(new URL(admin), { pathname: `/${name}` }).toString() : "";
  afterAll(async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
  });

  it("two portals starting at once apply each migration exactly once", async () => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    await c.query(`CREATE DATABASE ${name}`);
    await c.end();
    const a = openDb({ url });
    const b = openDb({ url });
    const [ra, rb] = await Promise.all([migrate(a.runner), migrate(b.runner)]);
    // One of them applied everything, the other found nothing to do.
    expect([...ra, ...rb].sort()).toEqual(listMigrations().map((m) => m.name).sort());
    const rows = await a.runner.withLock((cn) => cn.query(`SELECT count(*)::int AS n FROM "_prisma_migrations"`));
    expect(rows[0]?.n).toBe(listMigrations().length);
    await a.prisma.user.create({ data: { id: "x", username: "x", name: "X" } });
    expect(await b.prisma.user.count()).toBe(1);
    await a.close();
    await b.close();
  });
});

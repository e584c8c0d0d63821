/**
 * Portal benchmark (not a test): prints a table of medians.
 *   npx tsx bench/portal.ts            (needs a production build: ./carnet test or npx next build)
 * - upload of a 5 MB notebook through the API (median of 5)
 * - zip of 40 copies, and CSV of 1,000 copies
 * - dashboard at 1,000 copies: API page of 50 sorted by last save, filtered by class, and the HTML page
 * Runs the real portal (proxy + Next.js) on a fresh PostgreSQL database when CARNET_TEST_PG_ADMIN_URL (or the machine's
 * server on 127.0.0.1:5432) is there, else on PGlite (seeding then goes through the API, slower).
 * Peer: nbhosting/Capytale cannot run here (no Docker Hub, Django stack); JupyterHub has no dashboard of copies.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import crypto from "node:crypto";
import pg from "pg";
import { startStack } from "../e2e/stack";

const N_COPIES = Number(process.env.BENCH_COPIES ?? 1000);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (fn: () => Promise<unknown>) => {
  const t = performance.now();
  await fn();
  return performance.now() - t;
};

async function main() {
  const admin = process.env.CARNET_TEST_PG_ADMIN_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const name = `carnet_bench_${crypto.randomBytes(4).toString("hex")}`;
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`CREATE DATABASE ${name}`);
  await c.end();
  const url = Object.assign(new URL(admin), { pathname: `/${name}` }).toString();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-bench-"));
  const stack = await startStack({ dataDir, env: { DATABASE_URL: url } });
  const rows: [string, string][] = [];
  try {
    await stack.addUser("prof-bench", "teacher", "mot-de-passe-bench");
    const T = await stack.token("prof-bench");
    const auth = { authorization: `Bearer ${T}` };

    // A 5 MB notebook: a real corpus notebook padded with outputs.
    const base = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, "../../shared/corpus/courses/premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv.ipynb"), "utf8"));
    const blob = crypto.randomBytes(3_600_000).toString("base64");
    base.cells.push({ cell_type: "code", metadata: {}, execution_count: 1, source: ["x"], outputs: [{ output_type: "display_data", metadata: {}, data: { "image/png": blob } }] });
    const nb = Buffer.from(JSON.stringify(base));
    const uploads: number[] = [];
    let activityId = "";
    let code = "";
    for (let i = 0; i < 5; i++) {
      const form = new FormData();
      form.set("title", `Bench ${i}`);
      form.set("notebook", new Blob([new Uint8Array(nb)]), "Exercice élève n°1 l'été.ipynb");
      form.set("annexes", new Blob(["Prénom;Note\nZoé;15\n"]), "notes.csv");
      let res!: Response;
      uploads.push(await time(async () => (res = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: auth, body: form }))));
      if (res.status !== 201) throw new Error(`upload ${res.status}: ${await res.text()}`);
      ({ id: activityId, code } = (await res.json()) as { id: string; code: string });
    }
    rows.push([`upload of a ${(nb.length / 1e6).toFixed(1)} MB notebook + CSV (median of 5)`, `${median(uploads).toFixed(0)} ms`]);

    // 1,000 students with a copy each: accounts straight into the database (as an ENT sign-in would make them),
    // copies through the API, as students opening the link.
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    const tokens: string[] = [];
    const seedStart = performance.now();
    for (let i = 0; i < N_COPIES; i++) {
      const id = crypto.randomBytes(16).toString("base64url");
      const token = `carnet_pat_${crypto.randomBytes(32).toString("base64url")}`;
      await db.query(`INSERT INTO "User"(id, username, name, role, classes, "updatedAt") VALUES ($1,$2,$3,'STUDENT',$4,now())`, [id, `eleve${i}`, `Élève ${String(i).padStart(4, "0")}`, [`2nde ${(i % 10) + 1}`]]);
      await db.query(`INSERT INTO "ApiToken"(id, "userId", name, "tokenHash", prefix) VALUES ($1,$2,'bench',$3,'x')`, [id, id, crypto.createHash("sha256").update(token).digest("hex")]);
      tokens.push(token);
    }
    await db.end();
    const opens: number[] = [];
    for (let i = 0; i < N_COPIES; i += 25) {
      const batch = tokens.slice(i, i + 25);
      await Promise.all(batch.map(async (t) => {
        const ms = await time(async () => {
          const r = await fetch(`${stack.url}/api/v1/open/${code}`, { method: "POST", headers: { authorization: `Bearer ${t}` } });
          if (r.status !== 201) throw new Error(`open ${r.status}`);
        });
        opens.push(ms);
      }));
    }
    rows.push([`open the share link, ${N_COPIES} students, 25 at a time (median per open)`, `${median(opens).toFixed(0)} ms`]);
    rows.push([`seeding ${N_COPIES} copies, total`, `${((performance.now() - seedStart) / 1000).toFixed(1)} s`]);

    const q = async (p: string) => {
      const xs: number[] = [];
      for (let i = 0; i < 5; i++) xs.push(await time(async () => {
        const r = await fetch(`${stack.url}${p}`, { headers: auth });
        if (!r.ok) throw new Error(`${p}: ${r.status}`);
        await r.arrayBuffer();
      }));
      return median(xs);
    };
    rows.push([`dashboard API at ${N_COPIES} copies: page 1 of 50 by name`, `${(await q(`/api/v1/activities/${activityId}/copies?page=1&pageSize=50`)).toFixed(0)} ms`]);
    rows.push([`dashboard API at ${N_COPIES} copies: by last save, class filter, search`, `${(await q(`/api/v1/activities/${activityId}/copies?page=2&pageSize=50&sort=lastSavedAt&dir=desc&class=2nde%203&q=%C3%A9l%C3%A8ve`)).toFixed(0)} ms`]);
    const cookieHdr = await (await import("../server/testing/session")).signInCookie(stack.url, "prof-bench", "mot-de-passe-bench");
    const pageTimes: number[] = [];
    for (let i = 0; i < 5; i++) pageTimes.push(await time(async () => {
      const r = await fetch(`${stack.url}/activites/${activityId}?tri=name`, { headers: { cookie: cookieHdr } });
      if (!r.ok) throw new Error(`page ${r.status}`);
      await r.text();
    }));
    rows.push([`dashboard HTML page at ${N_COPIES} copies (server-rendered)`, `${median(pageTimes).toFixed(0)} ms`]);
    rows.push([`CSV of ${N_COPIES} copies`, `${(await q(`/api/v1/activities/${activityId}/copies.csv`)).toFixed(0)} ms`]);
    const ids = ((await (await fetch(`${stack.url}/api/v1/activities/${activityId}/copies?page=1&pageSize=40`, { headers: auth })).json()) as { items: { id: string }[] }).items.map((x) => x.id);
    let zipBytes = 0;
    const zipTimes: number[] = [];
    for (let i = 0; i < 3; i++) zipTimes.push(await time(async () => {
      const r = await fetch(`${stack.url}/api/v1/activities/${activityId}/copies.zip?ids=${ids.join(",")}`, { headers: auth });
      zipBytes = (await r.arrayBuffer()).byteLength;
    }));
    rows.push([`zip of 40 copies (${(zipBytes / 1e6).toFixed(1)} MB, median of 3)`, `${median(zipTimes).toFixed(0)} ms`]);
  } finally {
    await stack.stop();
    const c2 = new pg.Client({ connectionString: admin });
    await c2.connect();
    await c2.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c2.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`\nCarnet portal benchmark (${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}; PostgreSQL server)\n`);
  console.log(`${"measure".padEnd(w)} | Carnet | peer`);
  console.log(`${"-".repeat(w)}-|--------|-----`);
  for (const [k, v] of rows) console.log(`${k.padEnd(w)} | ${v.padStart(6)} | n/a`);
  console.log("\npeer: nbhosting/Capytale cannot run offline here; JupyterHub + nbgrader has no equivalent dashboard.");
}

await main();

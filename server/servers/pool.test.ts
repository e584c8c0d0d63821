/**
 * The warm pool (pool.ts) against the real stack (supervisor + proxy + Next.js production build + real Jupyter and
 * kernels), local backend always, docker when the engine is up (under CI=true a missing engine fails): the pool fills
 * to its size; a student's first opening gets a server already running (no start) whose pre-started kernel answers
 * through the proxy in their own copy folder; ten opens at once take one slot; two students two slots; a student in a
 * claimed slot cannot read another slot's or another copy's folder nor connect to another slot's socket; a class
 * arriving faster than the pool refills falls back to a cold start with the French message; the pool refills; a
 * claimed copy's server stopped is not returned to the pool and loses nothing; after a portal restart no slot is
 * adopted as a copy and their folders are gone; the admin API answers, teachers and students get 403.
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerUnavailable, startStack, type Stack } from "@/e2e/stack";
import {
  copyNotebookFile,
  createActivity,
  CSV_NAME,
  kernelWsUrl,
  KernelSocket,
  loopFetch,
  nbUrl,
  NOTEBOOK_NAME,
  openCopy,
  PASSWORD,
  saveNotebook,
  serverApi,
  serverStatus,
  sessionCookie,
  startServer,
  teardown,
  waitFor,
} from "./live-test-helpers";

interface Pool {
  ready: number;
  starting: number;
  claimed: number;
  target: number;
  size: number;
  limitedBy: string | null;
}

const poolApi = (stack: Stack) => `${stack.url}/api/v1/servers/pool`;

async function pool(stack: Stack, pat: string): Promise<Pool> {
  const res = await fetch(poolApi(stack), { headers: { authorization: `Bearer ${pat}` } });
  if (!res.ok) throw new Error(`GET pool: ${res.status} ${await res.text()}`);
  return (await res.json()) as Pool;
}

/** Slots not claimed yet: their markers in <data>/pool/slots (the portal's own, root-only folder). */
function slotIds(stack: Stack): string[] {
  const dir = path.join(stack.dataDir, "pool", "slots");
  return fs.existsSync(dir) ? fs.readdirSync(dir) : [];
}

/** Jupyter server processes (kernels excluded) serving this copy id's base URL (local backend). */
function serverProcesses(id: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes(`base_url=/nb/${id}/`) && !l.includes("ipykernel"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** The notebook session on the copy's server (the one the claim made on the pre-started kernel). */
async function notebookSession(stack: Stack, pat: string, copyId: string): Promise<{ kernel: { id: string }; path: string } | undefined> {
  const res = await loopFetch(nbUrl(stack, copyId, "api/sessions"), { headers: { authorization: `Bearer ${pat}` } });
  if (res.status !== 200) throw new Error(`sessions: ${res.status}`);
  return ((await res.json()) as { kernel: { id: string }; path: string }[]).find((s) => s.path.endsWith(".ipynb"));
}

// Under CI=true a missing engine or image throws here: the suite fails instead of skipping.
const docker = dockerUnavailable();
if ("reason" in docker) console.warn(`\n*** SKIPPED: warm pool with the docker backend: ${docker.reason} ***\n`);

for (const backend of ["local", "docker"] as const) {
  const be: Record<string, string> | null =
    backend === "local" ? { CARNET_SPAWNER: "local" } : "host" in docker ? { CARNET_SPAWNER: "docker", DOCKER_HOST: docker.host } : null;
  describe.skipIf(!be)(`warm pool (${backend})`, () => {
    let stack: Stack | undefined;
    let pats: Record<string, string>;
    let code: string;
    const students = ["alice", "bob", "chloe", "dany", "emma", "farid"];

    beforeAll(async () => {
      stack = await startStack({ env: { ...be, CARNET_POOL_SIZE: "2", CARNET_RECONCILE_INTERVAL_S: "2", CARNET_MAX_SERVERS_PER_STUDENT: "3" } });
      await stack.addUser("prof", "teacher", PASSWORD);
      await stack.addUser("gestion", "admin", PASSWORD);
      for (const s of students) await stack.addUser(s, "student", PASSWORD);
      pats = {};
      for (const u of ["prof", "gestion", ...students]) pats[u] = await stack.token(u);
      pats.admin = pats.gestion!;
      code = (await createActivity(stack, pats.prof!)).code;
    }, 180_000);
    afterAll(async () => {
      // Slots have no row: the teardown's stop of every server does not see them. Empty the pool first.
      if (stack && pats?.admin) {
        await fetch(poolApi(stack), { method: "PUT", headers: { authorization: `Bearer ${pats.admin}`, "content-type": "application/json" }, body: '{"size":0}' });
        await waitFor("pool emptied", async () => {
          const p = await pool(stack!, pats.admin!);
          return p.ready + p.starting === 0;
        }, 60_000).catch((err) => console.warn(String(err)));
      }
      await teardown(stack, pats?.prof);
    });

    const s = () => stack!;
    const auth = (u: string) => ({ authorization: `Bearer ${pats[u]}` });
    const ready = (n: number) => waitFor(`${n} ready slots`, async () => ((await pool(s(), pats.admin!)).ready >= n ? true : null), 120_000, 250);

    /** Runs code in the kernel of the notebook's session, through the proxy with the student's token. */
    async function run(u: string, copyId: string, kernelId: string, code: string) {
      const ws = await KernelSocket.open(kernelWsUrl(s(), copyId, kernelId), auth(u));
      try {
        return await ws.execute(code);
      } finally {
        ws.close();
      }
    }

    it("fills to its size; the admin API answers, teachers and students get 403, bad sizes 400 in French", async () => {
      await ready(2);
      const p = await pool(s(), pats.admin!);
      expect(p).toMatchObject({ ready: 2, starting: 0, claimed: 0, target: 2, size: 2 });
      expect(slotIds(s())).toHaveLength(2);
      for (const id of slotIds(s())) {
        // A slot: its empty folder, owned by its own uid (not root), 0700; no route, no row (admin list).
        const st = fs.statSync(path.join(s().dataDir, "copies", id));
        expect(st.uid).toBeGreaterThanOrEqual(200000);
        expect(st.mode & 0o777).toBe(0o700);
        expect(fs.readdirSync(path.join(s().dataDir, "copies", id))).toEqual([]);
      }
      const servers = (await (await fetch(`${s().url}/api/v1/servers`, { headers: auth("admin") })).json()) as unknown[];
      expect(servers).toEqual([]);
      for (const u of ["prof", "alice"]) {
        expect((await fetch(poolApi(s()), { headers: auth(u) })).status).toBe(403);
        const put = await fetch(poolApi(s()), { method: "PUT", headers: { ...auth(u), "content-type": "application/json" }, body: JSON.stringify({ size: 50 }) });
        expect(put.status).toBe(403);
        expect(((await put.json()) as { error: { code: string } }).error.code).toBe("forbidden");
      }
      for (const bad of [-1, 1.5, "3", 100000]) {
        const put = await fetch(poolApi(s()), { method: "PUT", headers: { ...auth("admin"), "content-type": "application/json" }, body: JSON.stringify({ size: bad }) });
        expect(put.status).toBe(400);
        expect(((await put.json()) as { error: { message: string } }).error.message).toMatch(/size : /);
      }
      expect((await pool(s(), pats.admin!)).size).toBe(2); // nothing half-stored
      // The admin page shows the pool and its size field.
      const page = await fetch(`${s().url}/admin/serveurs`, { headers: { cookie: await sessionCookie(s(), "gestion") } });
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain("Carnets prêts à l&#x27;avance (réserve)");
      expect(html).toMatch(/data-pool="ready"[^>]*>2</);
      expect(html).toMatch(/name="size"[^>]*value="2"|value="2"[^>]*name="size"/);
    });

    let alice = "";
    let aliceKernel = "";

    it("ten opens at once by one student take one slot; the server is running at once and its kernel answers in the copy folder", async () => {
      await ready(2);
      const before = slotIds(s());
      const t0 = Date.now();
      const ids = await Promise.all(Array.from({ length: 10 }, () => openCopy(s(), pats.alice!, code)));
      const opened = Date.now() - t0;
      expect(new Set(ids).size).toBe(1);
      alice = ids[0]!;
      expect(before).toContain(alice); // the copy IS a slot: same id
      // No start: running at once.
      const st = await serverStatus(s(), pats.alice!, alice);
      expect(st.status).toBe("running");
      const p = await pool(s(), pats.admin!);
      expect(p.claimed).toBe(1);
      expect(p.ready + p.starting).toBeLessThanOrEqual(2);
      expect(slotIds(s())).not.toContain(alice);
      // The notebook's session is on the pre-started kernel; it answers through the proxy, in the copy's folder.
      const session = await notebookSession(s(), pats.alice!, alice);
      expect(session?.path).toBe(NOTEBOOK_NAME);
      aliceKernel = session!.kernel.id;
      const t1 = Date.now();
      expect(await run("alice", alice, aliceKernel, "print(1 + 1)")).toMatchObject({ status: "ok", text: "2\n" });
      const firstCell = Date.now() - t1;
      const r = await run("alice", alice, aliceKernel, "import os, json\nprint(json.dumps([os.getcwd(), sorted(os.listdir('.')), os.getuid()]))");
      expect(r.status).toBe("ok");
      const [cwd, files, uid] = JSON.parse(r.text) as [string, string[], number];
      expect(cwd).toBe(backend === "docker" ? "/home/jovyan/work" : path.join(s().dataDir, "copies", alice));
      expect(files).toEqual(expect.arrayContaining([NOTEBOOK_NAME, CSV_NAME]));
      // The files belong to the slot's uid (the student), which the kernel runs as.
      expect(fs.statSync(copyNotebookFile(s(), alice)).uid).toBe(uid);
      expect(uid).toBeGreaterThanOrEqual(200000);
      console.log(`[pool ${backend}] 10 opens: ${opened} ms; first cell on the pre-started kernel: ${firstCell} ms`);
    });

    let bob = "";

    it("two students get two slots; neither reads the other's folder, another slot's folder or socket", async () => {
      bob = await openCopy(s(), pats.bob!, code);
      expect(bob).not.toBe(alice);
      expect((await serverStatus(s(), pats.bob!, bob)).status).toBe("running");
      expect((await pool(s(), pats.admin!)).claimed).toBe(2);
      const session = await notebookSession(s(), pats.bob!, bob);
      await ready(1);
      const other = slotIds(s())[0]!;
      const data = s().dataDir;
      const localPaths = {
        alice: path.join(data, "copies", alice),
        slot: path.join(data, "copies", other),
        sock: path.join(data, "servers", "local", other, "sock", "jupyter.sock"),
        root: path.join(data, "copies"),
      };
      // Bob's code, hostile: list Alice's copy and an unclaimed slot's folder, connect to that slot's Jupyter socket.
      const probe = [
        "import os, socket, json",
        "out = {}",
        `for k, p in ${JSON.stringify(localPaths)}.items():`,
        "    try:",
        "        if k == 'sock':",
        "            s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(p); out[k] = 'connected'",
        "        else:",
        "            out[k] = os.listdir(p)",
        "    except Exception as e:",
        "        out[k] = type(e).__name__",
        "print(json.dumps(out))",
      ].join("\n");
      const r = await run("bob", bob, session!.kernel.id, probe);
      expect(r.status).toBe("ok");
      const out = JSON.parse(r.text) as Record<string, unknown>;
      const refused = ["PermissionError", "FileNotFoundError", "ConnectionRefusedError"];
      expect(refused).toContain(out.alice);
      expect(refused).toContain(out.slot);
      expect(refused).toContain(out.sock);
      // Refused by the sandbox either way: the stack's data dir is under /tmp, which the local sandbox replaces by a
      // private tmpfs binding back only the server's own folders (FileNotFoundError); elsewhere the folders are
      // there but 0700 and another uid's (PermissionError). Both are checked on the host too:
      for (const dir of [localPaths.alice, localPaths.slot]) {
        const st = fs.statSync(dir);
        expect(st.mode & 0o777).toBe(0o700);
        expect(st.uid).not.toBe(fs.statSync(path.join(data, "copies", bob)).uid);
        expect(st.uid).not.toBe(0);
      }
      expect(fs.statSync(localPaths.alice).uid).not.toBe(fs.statSync(localPaths.slot).uid);
      // Nobody reaches an unclaimed slot through the proxy: it has no route.
      expect((await loopFetch(nbUrl(s(), other, "api/contents"), { headers: auth("bob") })).status).not.toBe(200);
      expect((await fetch(serverApi(s(), other), { headers: auth("admin") })).status).toBe(404);
    });

    it("a class arriving faster than the pool refills: the others cold-start with the French message; the pool refills", async () => {
      await ready(2);
      const three = ["chloe", "dany", "emma"];
      const ids = await Promise.all(three.map((u) => openCopy(s(), pats[u]!, code)));
      expect(new Set(ids).size).toBe(3);
      const states = await Promise.all(three.map((u, i) => serverStatus(s(), pats[u]!, ids[i]!)));
      expect(states.filter((x) => x.status === "running")).toHaveLength(2);
      const i = states.findIndex((x) => x.status !== "running");
      const u = three[i]!;
      // Its server starts as the share link (or the copy page) asks; meanwhile the page says why it waits.
      expect((await fetch(serverApi(s(), ids[i]!), { method: "POST", headers: auth(u) })).status).toBeLessThan(300);
      const x = await serverStatus(s(), pats[u]!, ids[i]!);
      expect(x.status).toBe("starting");
      expect((x as unknown as { message: string }).message).toMatch(/Tous les carnets prêts à l'avance sont pris : le vôtre démarre/);
      await startServer(s(), pats[u]!, ids[i]!);
      // The cold copy works like any other.
      const k = await loopFetch(nbUrl(s(), ids[i]!, "api/kernels"), { method: "POST", headers: { ...auth(u), "content-type": "application/json" }, body: '{"name":"python3"}' });
      expect(k.status).toBe(201);
      expect(await run(u, ids[i]!, ((await k.json()) as { id: string }).id, "print(1 + 1)")).toMatchObject({ status: "ok", text: "2\n" });
      // Refilled to its size with fresh slots.
      await ready(2);
      const p = await pool(s(), pats.admin!);
      expect(p.claimed).toBe(4);
      for (const id of slotIds(s())) expect([alice, bob, ...ids]).not.toContain(id);
    });

    it("stopping a claimed copy's server does not give it back to the pool and loses nothing; restarted, the save is there", async () => {
      const file = copyNotebookFile(s(), alice);
      const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: unknown[] };
      nb.cells.push({ cell_type: "markdown", id: "marque-pool", metadata: {}, source: ["enregistré-dans-un-carnet-de-la-réserve"] });
      await saveNotebook(s(), pats.alice!, alice, path.basename(file), nb);
      const before = await pool(s(), pats.admin!);
      const del = await fetch(serverApi(s(), alice), { method: "DELETE", headers: auth("alice") });
      expect(del.ok).toBe(true);
      expect((await serverStatus(s(), pats.alice!, alice)).status).toBe("stopped");
      if (backend === "local") await waitFor("slot server gone", async () => serverProcesses(alice).length === 0, 15_000);
      const after = await pool(s(), pats.admin!);
      expect(after.claimed).toBe(before.claimed);
      expect(slotIds(s())).not.toContain(alice);
      expect(fs.readFileSync(file, "utf8")).toContain("enregistré-dans-un-carnet-de-la-réserve");
      // Re-opening the link: the same copy (not a slot), a cold start, the save there.
      expect(await openCopy(s(), pats.alice!, code)).toBe(alice);
      expect((await pool(s(), pats.admin!)).claimed).toBe(before.claimed);
      await startServer(s(), pats.alice!, alice);
      const res = await loopFetch(nbUrl(s(), alice, `api/contents/${encodeURIComponent(NOTEBOOK_NAME)}`), { headers: auth("alice") });
      expect(res.status).toBe(200);
      expect(JSON.stringify(await res.json())).toContain("enregistré-dans-un-carnet-de-la-réserve");
    });

    it("after a portal restart no slot is adopted as a copy, their servers and folders are gone, the pool fills again", async () => {
      await ready(2);
      const old = slotIds(s());
      expect(old).toHaveLength(2);
      await s().restartPortal();
      await waitFor("old slots removed", async () => old.every((id) => !fs.existsSync(path.join(s().dataDir, "copies", id))), 60_000, 250);
      if (backend === "local") for (const id of old) await waitFor(`slot ${id} stopped`, async () => serverProcesses(id).length === 0, 15_000);
      for (const id of old) expect((await fetch(serverApi(s(), id), { headers: auth("admin") })).status).toBe(404);
      const servers = (await (await fetch(`${s().url}/api/v1/servers`, { headers: auth("admin") })).json()) as { copyId: string }[];
      for (const id of old) expect(servers.map((x) => x.copyId)).not.toContain(id);
      // Claimed slots are copies: adopted, still running.
      expect((await serverStatus(s(), pats.bob!, bob)).status).toBe("running");
      await ready(2);
      for (const id of slotIds(s())) expect(old).not.toContain(id);
      // And a new student after the restart gets one.
      const farid = await openCopy(s(), pats.farid!, code);
      expect((await serverStatus(s(), pats.farid!, farid)).status).toBe("running");
    });
  });
}

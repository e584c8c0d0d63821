/**
 * Prepared sessions (« Préparer la séance ») and the kernel ahead against the real stack (supervisor + proxy +
 * Next.js production build + real Jupyter), local backend always, docker when the engine is up (a loud skip; under
 * CI=true a missing engine fails):
 * - the teacher's preparation starts the servers of the students with a copy, so that their copy's API and share link
 *   say running at once; the notebook's session (its kernel) is there before the student's first request, and the
 *   student's own session request gets that kernel (one kernel) whose cell answers; a second preparation starts
 *   nothing; another student cannot enter; prepared servers nobody used stop after CARNET_PREPARE_TTL_MIN with their
 *   files intact, those used stay (both backends);
 * - a student's cold start makes the notebook's session ahead; session requests arriving while a kernel is starting
 *   (the page and a second tab) end with ONE kernel whose cell runs; a teacher opening a student's copy starts no
 *   kernel in it (both backends);
 * - a student may not prepare, another teacher gets 404; a bad count is refused with nothing stored; students expected
 *   without a copy become a demand on the warm pool; an activity not open yet prepares nothing and says why; at its
 *   opening date an activity prepares itself (local backend: the orchestrator's logic, the same on both).
 * Behaviour only: no timing is asserted.
 */
import fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerUnavailable, startStack, type Stack } from "@/e2e/stack";
import {
  copyNotebookFile,
  createActivity,
  kernelWsUrl,
  KernelSocket,
  loopFetch,
  nbUrl,
  NOTEBOOK_NAME,
  notebookOrigin,
  openCopy,
  PASSWORD,
  serverApi,
  serverStatus,
  sessionCookie,
  startKernel,
  startServer,
  teardown,
  waitFor,
} from "./live-test-helpers";

interface Report {
  expected: number;
  copies: number;
  started: number;
  alreadyRunning: number;
  skipped: { copyId: string; student: string; code: string; reason: string }[];
  warmSlotsRequested: number;
  until: string | null;
  message: string | null;
  pool: { ready: number; starting: number; claimed: number; target: number };
}

interface Status {
  expected: number;
  copies: number;
  running: number;
  starting: number;
  prepared: number;
  phase: string;
  message: string | null;
}

// Long enough for the servers to start on a busy 2-core machine, short enough for the test to see them stop.
const TTL_MIN = 1;

interface Session {
  id: string;
  path: string;
  kernel: { id: string };
}

/** The Jupyter sessions and kernels of a copy's server, through the proxy with `pat` (GET: nothing is started). */
async function sessions(stack: Stack, pat: string, copyId: string): Promise<Session[]> {
  const res = await loopFetch(nbUrl(stack, copyId, "api/sessions"), { headers: { authorization: `Bearer ${pat}` } });
  if (res.status !== 200) throw new Error(`GET sessions: ${res.status}`);
  return (await res.json()) as Session[];
}
async function kernels(stack: Stack, pat: string, copyId: string): Promise<{ id: string }[]> {
  const res = await loopFetch(nbUrl(stack, copyId, "api/kernels"), { headers: { authorization: `Bearer ${pat}` } });
  if (res.status !== 200) throw new Error(`GET kernels: ${res.status}`);
  return (await res.json()) as { id: string }[];
}
/** What nbclassic does once its page has loaded: POST api/sessions for the notebook's path. Returns the kernel id. */
async function openSession(stack: Stack, pat: string, copyId: string, nbPath = NOTEBOOK_NAME): Promise<string> {
  const res = await loopFetch(nbUrl(stack, copyId, "api/sessions"), {
    method: "POST",
    headers: { authorization: `Bearer ${pat}`, "content-type": "application/json" },
    body: JSON.stringify({ path: nbPath, type: "notebook", name: "", kernel: { name: "python3" } }),
  });
  if (res.status !== 201) throw new Error(`POST sessions: ${res.status} ${await res.text()}`);
  return ((await res.json()) as Session).kernel.id;
}
async function runCell(stack: Stack, pat: string, copyId: string, kernelId: string, code: string) {
  const ws = await KernelSocket.open(kernelWsUrl(stack, copyId, kernelId), { authorization: `Bearer ${pat}` });
  try {
    return await ws.execute(code);
  } finally {
    ws.close();
  }
}

// Under CI=true a missing engine or image throws here: the suite fails instead of skipping.
const docker = dockerUnavailable();
if ("reason" in docker) console.warn(`\n*** SKIPPED: prepared sessions with the docker backend: ${docker.reason} ***\n`);

for (const backend of ["local", "docker"] as const) {
const be: Record<string, string> | null =
  backend === "local" ? { CARNET_SPAWNER: "local" } : "host" in docker ? { CARNET_SPAWNER: "docker", DOCKER_HOST: docker.host } : null;
/** What does not depend on the backend (the preparation's rules) runs on the local one only. */
const itLocal = it.runIf(backend === "local");

describe.skipIf(!be)(`prepared sessions (${backend})`, () => {
  let stack: Stack;
  const pats: Record<string, string> = {};
  const students = ["alice", "bruno", "chloe", "dina", "emile", "farid"];
  beforeAll(async () => {
    stack = await startStack({ env: { ...be, CARNET_PREPARE_TTL_MIN: String(TTL_MIN), CARNET_RECONCILE_INTERVAL_S: "2" } });
    for (const t of ["prof", "autreprof"]) {
      await stack.addUser(t, "teacher", PASSWORD);
      pats[t] = await stack.token(t);
    }
    await stack.addUser("direction", "admin", PASSWORD);
    pats.admin = await stack.token("direction");
    for (const s of students) {
      await stack.addUser(s, "student", PASSWORD, s[0]!.toUpperCase() + s.slice(1));
      pats[s] = await stack.token(s);
    }
  }, 120_000);
  afterAll(async () => teardown(stack, pats.prof));

  const prepareUrl = (id: string) => `${stack.url}/api/v1/activities/${encodeURIComponent(id)}/prepare`;
  const prepare = (who: string, id: string, body: unknown = {}) =>
    fetch(prepareUrl(id), { method: "POST", headers: { authorization: `Bearer ${pats[who]}`, "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  const prepared = async (who: string, id: string, body: unknown = {}) => {
    const res = await prepare(who, id, body);
    expect(res.status, await res.clone().text()).toBe(202);
    return (await res.json()) as Report;
  };
  const status = async (id: string) => {
    const res = await fetch(prepareUrl(id), { headers: { authorization: `Bearer ${pats.prof}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as Status;
  };
  const running = (who: string, copy: string) =>
    waitFor(
      `${who}'s prepared server running`,
      async () => {
        const s = await serverStatus(stack, pats[who]!, copy);
        if (s.status === "stopped") throw new Error(`${who}: start failed: ${s.error}`);
        return s.status === "running";
      },
      120_000,
    );
  const patch = (id: string, body: unknown) =>
    fetch(`${stack.url}/api/v1/activities/${id}`, { method: "PATCH", headers: { authorization: `Bearer ${pats.prof}`, "content-type": "application/json" }, body: JSON.stringify(body) });

  it("starts the servers of the students with a copy: the share link goes straight to the notebook and the kernel answers; preparing again starts nothing; another student cannot enter", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance préparée");
    const alice = await openCopy(stack, pats.alice!, a.code);
    const bruno = await openCopy(stack, pats.bruno!, a.code);
    expect((await serverStatus(stack, pats.alice!, alice)).status).toBe("stopped");
    const before = await status(a.id);
    expect(before.copies).toBe(2);
    expect(before.expected).toBe(2); // pre-filled with what Carnet knows: the two copies

    const first = await prepared("prof", a.id);
    expect(first).toMatchObject({ copies: 2, started: 2, alreadyRunning: 0, skipped: [], warmSlotsRequested: 0, message: null });
    expect(Date.parse(first.until!)).toBeGreaterThan(Date.now());
    // Clicking twice (or a second tab): nothing new is started.
    const second = await prepared("prof", a.id);
    expect(second).toMatchObject({ started: 0, alreadyRunning: 2 });

    await running("alice", alice);
    await running("bruno", bruno);
    // The student arrives: the share link sends the browser straight to the live notebook, no start page.
    const link = await fetch(`${stack.url}/a/${a.code}`, { headers: { cookie: await sessionCookie(stack, "alice") }, redirect: "manual" });
    expect(link.status).toBeGreaterThanOrEqual(300);
    expect(link.headers.get("location") ?? "").toMatch(new RegExp(`^${notebookOrigin(stack, alice).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/nb/${alice}/`));
    // The kernel ahead: the notebook's session exists before the student's first request for one, and the page's
    // own request (nbclassic's POST api/sessions) gets that kernel, no second one. The route admits the copy's
    // student although the teacher started the server: the cell answers.
    const ahead = await waitFor("the notebook's session made ahead", async () => (await sessions(stack, pats.alice!, alice)).find((x) => x.path === NOTEBOOK_NAME), 60_000, 250);
    const kernel = await openSession(stack, pats.alice!, alice);
    expect(kernel).toBe(ahead.kernel.id);
    expect(await kernels(stack, pats.alice!, alice)).toHaveLength(1);
    expect(await runCell(stack, pats.alice!, alice, kernel, "print(6 * 7)")).toMatchObject({ status: "ok", text: "42\n" });
    // Hostile classmate: a server the teacher started is not open to other students.
    const other = await loopFetch(nbUrl(stack, alice, "api/contents"), { headers: { authorization: `Bearer ${pats.bruno}` } });
    expect([403, 404]).toContain(other.status);
    const s = await status(a.id);
    expect(s).toMatchObject({ running: 2, starting: 0, prepared: 2 });
  }, 300_000);

  it("stops the prepared servers nobody used after CARNET_PREPARE_TTL_MIN, files intact, and keeps those used", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance expirée");
    const chloe = await openCopy(stack, pats.chloe!, a.code);
    const dina = await openCopy(stack, pats.dina!, a.code);
    const nbBefore = fs.readFileSync(copyNotebookFile(stack, dina));
    expect((await prepared("prof", a.id)).started).toBe(2);
    await running("chloe", chloe);
    await running("dina", dina);
    // Chloé comes and works; Dina never comes.
    await startKernel(stack, pats.chloe!, chloe);
    await waitFor("Dina's unused server stopped", async () => (await serverStatus(stack, pats.dina!, dina)).status === "stopped", TTL_MIN * 60_000 + 60_000, 1000);
    expect(fs.readFileSync(copyNotebookFile(stack, dina)).equals(nbBefore)).toBe(true);
    expect((await serverStatus(stack, pats.chloe!, chloe)).status).toBe("running");
    await waitFor("Chloé's server no longer counted as prepared", async () => (await status(a.id)).prepared === 0, 30_000, 500);
    expect((await status(a.id)).running).toBe(1);
    // Dina arrives late: her copy opens as usual (a cold start).
    const res = await fetch(serverApi(stack, dina), { method: "POST", headers: { authorization: `Bearer ${pats.dina}` } });
    expect([200, 202]).toContain(res.status);
    await running("dina", dina);
  }, 300_000);

  itLocal("refuses other teachers (404), students (403) and bad counts (400, nothing stored); admins may prepare", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance gardée");
    await openCopy(stack, pats.emile!, a.code);
    const foreign = await prepare("autreprof", a.id);
    expect(foreign.status).toBe(404);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const student = await prepare("emile", a.id);
    expect(student.status).toBe(403);
    expect(((await student.json()) as { error: { code: string } }).error.code).toBe("forbidden");
    for (const bad of [{ count: "35" }, { count: -1 }, { count: 0 }, { count: 2.5 }, { count: 1e9 }, { count: 3, extra: true }, "not json", "[1]"]) {
      const res = await prepare("prof", a.id, bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
      const j = (await res.json()) as { error: { code: string; message: string } };
      expect(j.error.code).toBe("bad_request");
      expect(j.error.message.length).toBeGreaterThan(5);
    }
    // Nothing half-done: no server started, the expected count not changed.
    expect(await status(a.id)).toMatchObject({ running: 0, starting: 0, expected: 1 });
    const byAdmin = await prepared("admin", a.id);
    expect(byAdmin.started).toBe(1);
  }, 120_000);

  itLocal("asks the warm pool for the students expected without a copy, and withdraws the demand when fewer are expected", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance avec la réserve");
    await openCopy(stack, pats.alice!, a.code);
    const pool = async () => {
      const res = await fetch(`${stack.url}/api/v1/servers/pool`, { headers: { authorization: `Bearer ${pats.admin}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { demanded: number; ready: number; starting: number; target: number };
    };
    const demandedBefore = (await pool()).demanded;
    const r = await prepared("prof", a.id, { count: 4 });
    expect(r.expected).toBe(4);
    expect(r.warmSlotsRequested).toBe(3); // 4 expected, 1 copy
    expect(r.pool.target).toBeGreaterThanOrEqual(3);
    expect((await pool()).demanded).toBe(demandedBefore + 3);
    expect((await status(a.id)).expected).toBe(4); // remembered for the panel and the opening date
    // Only the one student after all: the pool demand goes, and the slots started for it are destroyed.
    const less = await prepared("prof", a.id, { count: 1 });
    expect(less.warmSlotsRequested).toBe(0);
    expect((await pool()).demanded).toBe(demandedBefore);
    await waitFor("pool back to no slot", async () => {
      const p = await pool();
      return p.ready + p.starting === 0;
    }, 120_000, 1000);
  }, 200_000);

  itLocal("prepares nothing while the activity is locked, and says why", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance verrouillée");
    const bruno = await openCopy(stack, pats.bruno!, a.code);
    const opensAt = new Date(Date.now() + 3_600_000);
    expect((await patch(a.id, { opensAt: opensAt.toISOString(), accessMode: "locked" })).status).toBe(200);
    const r = await prepared("prof", a.id, { count: 30 });
    expect(r).toMatchObject({ started: 0, alreadyRunning: 0, warmSlotsRequested: 0 });
    expect(r.message).toMatch(/verrouillée jusqu'au .*Rien n'a été démarré/);
    expect((await serverStatus(stack, pats.bruno!, bruno)).status).toBe("stopped");
    expect((await status(a.id)).phase).toBe("before");
  }, 60_000);

  itLocal("prepares by itself when the access window opens, not before", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance à l'ouverture");
    const emile = await openCopy(stack, pats.emile!, a.code);
    const opensAt = new Date(Date.now() + 10_000);
    expect((await patch(a.id, { opensAt: opensAt.toISOString() })).status).toBe(200);
    // Before the opening: no server, and the student may not start one.
    const early = await fetch(serverApi(stack, emile), { method: "POST", headers: { authorization: `Bearer ${pats.emile}` } });
    expect(early.status).toBe(403);
    while (Date.now() < opensAt.getTime() - 1500) {
      expect((await serverStatus(stack, pats.emile!, emile)).status).toBe("stopped");
      await new Promise((r) => setTimeout(r, 500));
    }
    // At the opening, with nobody clicking anything: Émile's server starts.
    await running("emile", emile);
    expect((await status(a.id)).prepared).toBe(1);
  }, 200_000);

  it("a student's cold start makes the notebook's session ahead: session requests while the kernel starts end with ONE kernel whose cell runs; a teacher's opening starts no kernel", async () => {
    const a = await createActivity(stack, pats.prof!, "Noyau d'avance");
    const farid = await openCopy(stack, pats.farid!, a.code);
    // The student starts their server and their page asks for the notebook's session as soon as it says running,
    // twice (a second tab), while the kernel made ahead may still be starting.
    await startServer(stack, pats.farid!, farid, 120_000);
    const asked = await Promise.all([openSession(stack, pats.farid!, farid), openSession(stack, pats.farid!, farid)]);
    expect(asked[1]).toBe(asked[0]);
    const list = await sessions(stack, pats.farid!, farid);
    expect(list.filter((x) => x.path === NOTEBOOK_NAME)).toHaveLength(1);
    expect((await kernels(stack, pats.farid!, farid)).map((k) => k.id)).toEqual([asked[0]]);
    expect(await runCell(stack, pats.farid!, farid, asked[0]!, "x = 6 * 7\nprint(x)")).toMatchObject({ status: "ok", text: "42\n" });
    // Jupyter's own guard (Carnet's configuration): three requests for a new notebook at the same instant, one kernel.
    const brouillon = await Promise.all([1, 2, 3].map(() => openSession(stack, pats.farid!, farid, "brouillon.ipynb")));
    expect(new Set(brouillon).size).toBe(1);
    expect(await kernels(stack, pats.farid!, farid)).toHaveLength(2);
    // The student's variables are in the one kernel of their notebook.
    expect(await runCell(stack, pats.farid!, farid, asked[0]!, "print(x + 1)")).toMatchObject({ status: "ok", text: "43\n" });

    // The teacher opens a student's copy whose server is stopped (a read-only view): no kernel in the student's server.
    const bruno = await openCopy(stack, pats.bruno!, a.code);
    await startServer(stack, pats.prof!, bruno, 120_000);
    await new Promise((r) => setTimeout(r, 5000)); // what a kernel made ahead would take to show
    expect(await kernels(stack, pats.bruno!, bruno)).toEqual([]);
    expect(await sessions(stack, pats.bruno!, bruno)).toEqual([]);
  }, 300_000);
});
}

describe("prepared sessions within the site's limit (local)", () => {
  let stack: Stack;
  const pats: Record<string, string> = {};
  beforeAll(async () => {
    stack = await startStack({ env: { CARNET_MAX_SERVERS: "1" } });
    for (const [u, role] of [["prof", "teacher"], ["alice", "student"], ["bruno", "student"]] as const) {
      await stack.addUser(u, role, PASSWORD);
      pats[u] = await stack.token(u);
    }
  }, 120_000);
  afterAll(async () => teardown(stack, pats.prof));

  it("starts what CARNET_MAX_SERVERS allows, reports the rest server_full, and asks the pool for nothing beyond it", async () => {
    const a = await createActivity(stack, pats.prof!, "Séance à l'étroit");
    const alice = await openCopy(stack, pats.alice!, a.code);
    const bruno = await openCopy(stack, pats.bruno!, a.code);
    const res = await fetch(`${stack.url}/api/v1/activities/${a.id}/prepare`, {
      method: "POST",
      headers: { authorization: `Bearer ${pats.prof}`, "content-type": "application/json" },
      body: JSON.stringify({ count: 10 }),
    });
    expect(res.status).toBe(202);
    const r = (await res.json()) as Report;
    expect(r.started).toBe(1);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0]).toMatchObject({ code: "server_full" });
    expect(r.skipped[0]!.reason).toMatch(/nombre maximal de carnets/);
    expect(r.warmSlotsRequested).toBe(0); // no room left on the site for slots
    const states = await Promise.all([serverStatus(stack, pats.alice!, alice), serverStatus(stack, pats.bruno!, bruno)]);
    expect(states.filter((s) => s.status !== "stopped")).toHaveLength(1);
  }, 120_000);
});

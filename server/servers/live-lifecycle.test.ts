/**
 * Lifecycle of live servers against the real stack (supervisor + proxy + Next.js production build + real Jupyter,
 * local backend): idle culling keeps the files; a server killed with SIGKILL is noticed and the next open restarts
 * it on the last saved notebook; restarting the proxy keeps the routes; restarting the portal keeps an open kernel
 * WebSocket working and adopts the server; twenty concurrent starts make one server; the site's limit answers 503
 * server_full; a kernel killed for memory is explained to the student.
 */
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import {
  alive,
  copyNotebookFile,
  createActivity,
  kernelWsUrl,
  KernelSocket,
  localServerPid,
  loopFetch,
  nbUrl,
  notebookCookie,
  notebookOrigin,
  openCopy,
  PASSWORD,
  serverApi,
  serverStatus,
  saveNotebook,
  startKernel,
  startServer,
  teardown,
  waitFor,
} from "./live-test-helpers";

/** Jupyter server processes of a copy (kernels excluded), found by their base URL on the command line. */
function serverProcesses(copyId: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .filter((l) => l.includes(`base_url=/nb/${copyId}/`) && !l.includes("ipykernel"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

/** Writes a marker cell into the copy's notebook through Jupyter (as a save from the UI does). */
async function saveMarker(stack: Stack, pat: string, copyId: string, marker: string) {
  const file = copyNotebookFile(stack, copyId);
  const nb = JSON.parse(fs.readFileSync(file, "utf8")) as { cells: unknown[] };
  nb.cells.push({ cell_type: "code", id: marker, metadata: {}, execution_count: 1, source: [`print(${JSON.stringify(marker)})`], outputs: [{ output_type: "stream", name: "stdout", text: [`${marker}\n`] }] });
  await saveNotebook(stack, pat, copyId, path.basename(file), nb);
  expect(fs.readFileSync(file, "utf8")).toContain(marker);
}

describe("live servers: culling and the site limit", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  let code: string;

  beforeAll(async () => {
    stack = await startStack({
      env: { CARNET_IDLE_TIMEOUT_MIN: "0.05", CARNET_RECONCILE_INTERVAL_S: "1", CARNET_MAX_SERVERS: "1" },
    });
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    await stack.addUser("bob", "student", PASSWORD, "Bob Léger");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice"), bob: await stack.token("bob") };
    code = (await createActivity(stack, pats.prof!)).code;
  });
  afterAll(async () => {
    await teardown(stack, pats?.prof);
  });

  it("answers 503 server_full in French when the site's limit is reached, and culls an idle server without touching its files", async () => {
    const alice = await openCopy(stack, pats.alice!, code);
    const bob = await openCopy(stack, pats.bob!, code);
    await startServer(stack, pats.alice!, alice);
    const pid = localServerPid(stack, alice);
    await saveMarker(stack, pats.alice!, alice, "avant-arret-inactivite");

    const full = await fetch(serverApi(stack, bob), { method: "POST", headers: { authorization: `Bearer ${pats.bob}` } });
    expect(full.status).toBe(503);
    const body = (await full.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("server_full");
    expect(body.error.message).toMatch(/La classe est complète.*Réessayez dans une minute/);

    // Nobody touches it: within a few reconcile passes it is stopped (polling the portal's status is not activity).
    await waitFor("idle server culled", async () => (await serverStatus(stack, pats.alice!, alice)).status === "stopped", 60_000, 500);
    await waitFor("server process gone", async () => !alive(pid), 15_000);
    expect(fs.readFileSync(copyNotebookFile(stack, alice), "utf8")).toContain("avant-arret-inactivite");
    expect((await loopFetch(nbUrl(stack, alice, "api/contents"), { headers: { authorization: `Bearer ${pats.alice}` } })).status).not.toBe(200);

    // The place is free again: Bob's server starts.
    await startServer(stack, pats.bob!, bob);
    await fetch(serverApi(stack, bob), { method: "DELETE", headers: { authorization: `Bearer ${pats.bob}` } });
  });
});

describe("live servers: crashes, restarts, concurrency, memory", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  let code: string;

  beforeAll(async () => {
    stack = await startStack({ env: { CARNET_RECONCILE_INTERVAL_S: "1", CARNET_SERVER_MEMORY_MB: "350" } });
    await stack.addUser("prof", "teacher", PASSWORD);
    for (const s of ["alice", "bob", "chloe", "dany"]) await stack.addUser(s, "student", PASSWORD);
    pats = {};
    for (const u of ["prof", "alice", "bob", "chloe", "dany"]) pats[u] = await stack.token(u);
    code = (await createActivity(stack, pats.prof!)).code;
  });
  afterAll(async () => {
    await teardown(stack, pats?.prof);
  });

  it("kill -9 of the server: noticed, the next open restarts it, the last saved notebook is intact", async () => {
    const copy = await openCopy(stack, pats.alice!, code);
    await startServer(stack, pats.alice!, copy);
    await saveMarker(stack, pats.alice!, copy, "sauvegarde-avant-crash");
    const pid = localServerPid(stack, copy);
    process.kill(pid, "SIGKILL");
    // The reconcile loop notices: status goes to stopped with a message for the student, the route goes.
    const st = await waitFor("crash noticed", async () => {
      const s = await serverStatus(stack, pats.alice!, copy);
      return s.status === "stopped" ? s : null;
    });
    expect(st.error).toMatch(/Votre serveur s'est arrêté.*intact/);
    const gone = await loopFetch(nbUrl(stack, copy, "api/contents"), { headers: { authorization: `Bearer ${pats.alice}` } });
    expect(gone.status).not.toBe(200);

    await startServer(stack, pats.alice!, copy);
    const pid2 = localServerPid(stack, copy);
    expect(pid2).not.toBe(pid);
    const res = await loopFetch(nbUrl(stack, copy, `api/contents/${encodeURIComponent(path.basename(copyNotebookFile(stack, copy)))}`), {
      headers: { authorization: `Bearer ${pats.alice}` },
    });
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain("sauvegarde-avant-crash");
  });

  it("a proxy restart keeps the routes; a portal restart keeps an open kernel WebSocket and adopts the server", async () => {
    const copy = await openCopy(stack, pats.bob!, code);
    await startServer(stack, pats.bob!, copy);
    const pid = localServerPid(stack, copy);
    const contents = nbUrl(stack, copy, "api/contents");
    const auth = { authorization: `Bearer ${pats.bob}` };

    await stack.restartProxy();
    // The new proxy serves the route on its very first request: it rebuilt its table on start.
    expect((await loopFetch(contents, { headers: auth })).status).toBe(200);

    const kernel = await startKernel(stack, pats.bob!, copy);
    // The notebook page's own session (its host's cookie, handed over by the portal) survives the portal's restart.
    const cookie = await notebookCookie(stack, "bob", copy);
    const ws = await KernelSocket.open(kernelWsUrl(stack, copy, kernel), { cookie, origin: notebookOrigin(stack, copy) });
    expect(await ws.execute("x = 41\nprint('avant', x)")).toMatchObject({ status: "ok", text: "avant 41\n" });

    await stack.restartPortal();
    expect(ws.isOpen).toBe(true);
    expect(await ws.execute("print('après', x + 1)")).toMatchObject({ status: "ok", text: "après 42\n" });
    ws.close();

    // The new portal adopted the server: same process, still running, route still there.
    const st = await serverStatus(stack, pats.bob!, copy);
    expect(st.status).toBe("running");
    expect(localServerPid(stack, copy)).toBe(pid);
    expect(alive(pid)).toBe(true);
    expect(serverProcesses(copy)).toEqual([pid]);
    expect((await loopFetch(contents, { headers: auth })).status).toBe(200);
  });

  it("twenty concurrent starts of one copy start exactly one server", async () => {
    const copy = await openCopy(stack, pats.chloe!, code);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => fetch(serverApi(stack, copy), { method: "POST", headers: { authorization: `Bearer ${pats.chloe}` } }).then((r) => r.status)),
    );
    expect(answers.every((s) => s === 200 || s === 202)).toBe(true);
    await startServer(stack, pats.chloe!, copy);
    expect(serverProcesses(copy)).toHaveLength(1);
    expect(serverProcesses(copy)).toEqual([localServerPid(stack, copy)]);
  });

  it("a kernel killed for memory: the student is told why", async () => {
    const copy = await openCopy(stack, pats.dany!, code);
    await startServer(stack, pats.dany!, copy);
    const before = await serverStatus(stack, pats.dany!, copy);
    expect((before as { notice?: string | null }).notice ?? null).toBeNull();
    expect(before.memoryMb).toBeGreaterThan(20);

    const kernel = await startKernel(stack, pats.dany!, copy);
    const ws = await KernelSocket.open(kernelWsUrl(stack, copy, kernel), { cookie: await notebookCookie(stack, "dany", copy), origin: notebookOrigin(stack, copy) });
    expect(await ws.execute("print('ok')")).toMatchObject({ status: "ok" });
    // 600 MiB of bytes, written: over the 350 MiB cap. The kernel dies (OOM killer), Jupyter restarts it.
    const r = await ws.execute("big = b'x' * (600 * 1024 * 1024)\nprint(len(big))", 60_000);
    expect(r.status).toBe("died");
    ws.close();

    const st = await waitFor("memory notice", async () => {
      const s = (await serverStatus(stack, pats.dany!, copy)) as Awaited<ReturnType<typeof serverStatus>> & { notice?: string | null };
      return s.notice ? s : null;
    }, 15_000);
    expect(st.status).toBe("running");
    expect(st.notice).toMatch(/plus de mémoire que permis \(350 Mo\)/);
  });
});

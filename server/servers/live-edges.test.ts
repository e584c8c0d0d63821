/**
 * Edges of the live-server lifecycle, against the real stack (local backend, real Jupyter):
 * a server that cannot start is cleaned up and the student is told why, with a retry; a server older than
 * CARNET_MAX_AGE_HOURS is stopped even when busy, files kept; at portal start, a server that no copy owns
 * (an orphan) is stopped.
 */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import { createSpawner, type Spawner } from "@/spawner";
import { alive, copyNotebookFile, createActivity, localServerPid, loopFetch, nbUrl, openCopy, PASSWORD, serverStatus, startServer, teardown, waitFor } from "./live-test-helpers";

function jupyterProcessesOf(dataDir: string): number[] {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" });
  // Servers are started with their runtime folder under <data>/servers; kernels carry it in their connection file.
  return out.split("\n").filter((l) => l.includes("jupyter") && l.includes(dataDir)).map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe("live servers: a start that fails", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  beforeAll(async () => {
    // 24 MiB cannot hold a Jupyter server: the kernel's OOM killer ends it before it answers, every time.
    stack = await startStack({ env: { CARNET_SERVER_MEMORY_MB: "24", CARNET_START_TIMEOUT_S: "30" } });
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice") };
  });
  afterAll(async () => teardown(stack, pats?.prof));

  it("is cleaned up (no process, no route) and the student reads a clear message; retrying starts again", async () => {
    const { code } = await createActivity(stack, pats.prof!);
    const copy = await openCopy(stack, pats.alice!, code);
    const before = fs.readFileSync(copyNotebookFile(stack, copy));
    const res = await fetch(`${stack.url}/api/v1/copies/${copy}/server`, { method: "POST", headers: { authorization: `Bearer ${pats.alice}` } });
    expect(res.status).toBe(202);
    const failed = await waitFor("the failed start to be reported", async () => {
      const s = await serverStatus(stack, pats.alice!, copy);
      return s.status === "stopped" ? s : null;
    });
    expect(failed.error).toMatch(/n'a pas pu démarrer|trop de temps/);
    expect(failed.error).toMatch(/Réessayez/);
    expect(jupyterProcessesOf(stack.dataDir)).toEqual([]);
    const notebook = await loopFetch(nbUrl(stack, copy, "api/contents"), { headers: { authorization: `Bearer ${pats.alice}` } });
    expect(notebook.status).toBe(404); // no route left behind
    // Retrying is possible (and fails the same way here), and the student's file never changed.
    const retry = await fetch(`${stack.url}/api/v1/copies/${copy}/server`, { method: "POST", headers: { authorization: `Bearer ${pats.alice}` } });
    expect(retry.status).toBe(202);
    await waitFor("the retry to end", async () => ((await serverStatus(stack, pats.alice!, copy)).status === "stopped" ? true : null));
    expect(fs.readFileSync(copyNotebookFile(stack, copy))).toEqual(before);
  });
});

describe("live servers: maximum age and orphans", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  let orphan: Spawner | undefined;
  beforeAll(async () => {
    // Idle culling is far away (60 min); only the maximum age (about 3 s) can stop a server here.
    stack = await startStack({ env: { CARNET_MAX_AGE_HOURS: "0.001", CARNET_RECONCILE_INTERVAL_S: "1" } });
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice") };
  });
  afterAll(async () => {
    await orphan?.stop().catch(() => undefined);
    await teardown(stack, pats?.prof);
  });

  it("stops a server older than CARNET_MAX_AGE_HOURS even while it is used, and keeps its files", async () => {
    const { code } = await createActivity(stack, pats.prof!);
    const copy = await openCopy(stack, pats.alice!, code);
    await startServer(stack, pats.alice!, copy);
    const pid = localServerPid(stack, copy);
    // Keep it busy: traffic through the proxy every 200 ms does not save it from the maximum age.
    await waitFor("the server to reach its maximum age", async () => {
      await loopFetch(nbUrl(stack, copy, "api/contents"), { headers: { authorization: `Bearer ${pats.alice}` } });
      return !alive(pid);
    }, 60_000);
    // The process goes first; the portal then removes the route and the record.
    await waitFor("the portal to report the server stopped", async () => (await serverStatus(stack, pats.alice!, copy)).status === "stopped");
    expect(fs.existsSync(copyNotebookFile(stack, copy))).toBe(true);
  });

  it("at portal start, stops a server that no copy owns", async () => {
    const instanceId = "c" + crypto.createHash("sha256").update(stack.dataDir).digest("hex").slice(0, 10);
    const workDir = fs.mkdtempSync(path.join(stack.dataDir, "orphan-"));
    orphan = createSpawner(
      "local",
      { id: "orphelin", baseUrl: "/nb/orphelin/", workDir, token: crypto.randomBytes(16).toString("hex"), memoryMb: 512, cpus: 1, uid: 299_999, gid: 299_999 },
      { instanceId, stateDir: path.join(stack.dataDir, "servers") },
    );
    await orphan.start();
    const pid = (orphan.getState() as { pid: number }).pid;
    expect(alive(pid)).toBe(true);
    await stack.restartPortal();
    await waitFor("the orphan to be stopped by the restarted portal", async () => !alive(pid), 60_000).catch((e) => { console.log(`portal log:\n${stack.logs().slice(-3000)}`); throw e; });
  });
});

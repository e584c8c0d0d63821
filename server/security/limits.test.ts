/**
 * Attacks on the machine's resources by one student, against the real stack (local backend, real Jupyter):
 * - opening every copy they have to hold many servers: the third of their own starts is refused (too_many_servers)
 *   naming the copies running and how to stop one; a teacher opening the student's copy does not count;
 * - filling the disk from their kernel: past CARNET_COPY_QUOTA_MB the server is stopped within a reconcile tick,
 *   the student reads why, the teacher's dashboard flags the copy, and no file is deleted or truncated; reopened,
 *   the copy may shrink but not grow.
 */
import crypto from "node:crypto";
import { execFile, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, startStack, type Stack } from "@/e2e/stack";
import { ConfigError, parseEnv } from "../env";
import {
  createActivity,
  KernelSocket,
  kernelWsUrl,
  openCopy,
  PASSWORD,
  serverApi,
  serverStatus,
  startKernel,
  startServer,
  teardown,
  waitFor,
  copyNotebookFile,
  sessionCookie,
} from "../servers/live-test-helpers";

const isRoot = process.getuid?.() === 0;
const root = path.resolve(import.meta.dirname, "../..");
const run = promisify(execFile);
const TICK_S = 2;
const QUOTA_MB = 8;

type ErrorBody = { error: { code: string; message: string; details?: { running?: { copyId: string; activity: string }[] } } };
type Status = Awaited<ReturnType<typeof serverStatus>> & { notice: string | null; diskMb: number | null; overQuota: boolean };

describe.skipIf(!isRoot)("limits per student and per copy", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  const acts: { id: string; code: string; title: string }[] = [];
  const copies: string[] = [];

  const post = (pat: string, copy: string) => fetch(serverApi(stack, copy), { method: "POST", headers: { authorization: `Bearer ${pat}` } });
  const del = (pat: string, copy: string) => fetch(serverApi(stack, copy), { method: "DELETE", headers: { authorization: `Bearer ${pat}` } });
  const status = async (copy: string) => (await serverStatus(stack, pats.alice!, copy)) as Status;
  const dashboard = async (activityId: string) => {
    const res = await fetch(`${stack.url}/api/v1/activities/${activityId}/copies`, { headers: { authorization: `Bearer ${pats.prof}` } });
    expect(res.status).toBe(200);
    return (await res.json()) as { id: string; diskMb: number | null; overQuota: boolean }[];
  };

  beforeAll(async () => {
    stack = await startStack({
      env: {
        CARNET_MAX_SERVERS_PER_STUDENT: "2",
        CARNET_MAX_ACTIVITY_MB: "5",
        CARNET_COPY_QUOTA_MB: String(QUOTA_MB),
        CARNET_RECONCILE_INTERVAL_S: String(TICK_S),
      },
    });
    await stack.addUser("prof", "teacher", PASSWORD, "Mme Prof");
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    await stack.addUser("surveillant", "admin", PASSWORD);
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice"), admin: await stack.token("surveillant") };
    for (const title of ["Listes", "Dictionnaires", "Fichiers CSV"]) {
      const a = await createActivity(stack, pats.prof!, title);
      acts.push({ ...a, title });
      copies.push(await openCopy(stack, pats.alice!, a.code));
    }
  });
  afterAll(async () => teardown(stack, pats?.prof));

  it("a student's third server is refused with too_many_servers naming the two running; a teacher's open does not count", async () => {
    const [a, b, c] = copies as [string, string, string];
    await startServer(stack, pats.alice!, a);
    await startServer(stack, pats.alice!, b);
    const res = await post(pats.alice!, c);
    expect(res.status).toBe(409);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("too_many_servers");
    expect(body.error.message).toContain("« Listes »");
    expect(body.error.message).toContain("« Dictionnaires »");
    expect(body.error.message).toMatch(/Arrêtez-en un/);
    expect(body.error.details?.running?.map((r) => r.copyId).sort()).toEqual([a, b].sort());
    expect((await status(c)).status).toBe("stopped"); // nothing started behind the refusal

    // Twenty tabs at once on the refused copy: still refused, still two servers.
    const burst = await Promise.all(Array.from({ length: 20 }, () => post(pats.alice!, c).then((r) => r.status)));
    expect(new Set(burst)).toEqual(new Set([409]));

    // The teacher opens the student's third copy to help: allowed, and it is not counted against the student.
    const t = await post(pats.prof!, c);
    expect(t.status).toBe(202);
    await waitFor("the teacher's server", async () => (await status(c)).status === "running");
    // The student stops one of theirs (what the page's « Arrêter » button does) and may start it again.
    expect((await del(pats.alice!, a)).status).toBe(200);
    await startServer(stack, pats.alice!, a);
    const servers = (await (await fetch(`${stack.url}/api/v1/servers`, { headers: { authorization: `Bearer ${pats.admin}` } })).json()) as { copyId: string }[];
    expect(servers.map((s) => s.copyId).sort()).toEqual([a, b, c].sort());
    await del(pats.prof!, c);
  });

  it("a kernel writing past the quota: server stopped within a tick, the student told, the teacher sees it, no file lost", async () => {
    const copy = copies[1]!;
    const activity = acts[1]!;
    if ((await status(copy)).status !== "running") await startServer(stack, pats.alice!, copy);
    const notebookBefore = fs.readFileSync(copyNotebookFile(stack, copy));
    const kernelId = await startKernel(stack, pats.alice!, copy);
    const k = await KernelSocket.open(kernelWsUrl(stack, copy, kernelId), { authorization: `Bearer ${pats.alice}` });
    const big = 3 * QUOTA_MB;
    // A file written under the quota first: it must come out of the stop intact.
    const prepared = await k.execute(
      `import os, hashlib\nsmall = os.urandom(2**20)\nopen("donnees.bin", "wb").write(small)\nb = os.urandom(${big} * 2**20)\nprint(hashlib.sha256(small).hexdigest(), hashlib.sha256(b).hexdigest())`,
    );
    expect(prepared.status, prepared.error).toBe("ok");
    const [smallSha, sha] = prepared.text.trim().split(" ");
    // The write itself: the server may well be stopped before the kernel answers (that is the point).
    const wroteAt = Date.now();
    const wrote = await k.execute(`open("resultats.bin", "wb").write(b)`).catch(() => null);
    k.close();

    const stopped = await waitFor("the server stopped for its quota", async () => {
      const s = await status(copy);
      return s.status === "stopped" ? s : null;
    }, 30_000, 100);
    const ms = Date.now() - wroteAt;
    console.log(`quota: server stopped ${ms} ms after the write (reconcile tick ${TICK_S} s)`);
    // At most one tick until a pass measures the file, then the pass itself and Jupyter's graceful stop.
    expect(ms).toBeLessThan(TICK_S * 1000 + 4000);
    expect(stopped.error).toMatch(new RegExp(`occupe \\d+ Mo, plus que les ${QUOTA_MB} Mo permis`));
    expect(stopped.error).toContain("Aucun fichier n'a été supprimé");
    expect(stopped.overQuota).toBe(true);

    // Nothing deleted or truncated: the files at rest are intact, the big one is all there once its write returned
    // (a stop in the middle of the write ends the program, as any stop would: what it had written stays).
    const sha256 = (f: string) => crypto.createHash("sha256").update(fs.readFileSync(path.join(stack.dataDir, "copies", copy, f))).digest("hex");
    expect(sha256("donnees.bin")).toBe(smallSha);
    expect(fs.readFileSync(copyNotebookFile(stack, copy))).toEqual(notebookBefore);
    const size = fs.statSync(path.join(stack.dataDir, "copies", copy, "resultats.bin")).size;
    expect(size).toBeGreaterThan(QUOTA_MB * 2 ** 20);
    if (wrote?.status === "ok") {
      expect(size).toBe(big * 2 ** 20);
      expect(sha256("resultats.bin")).toBe(sha);
    }

    // The teacher's dashboard flags the copy, with its size; the others are not flagged.
    const rows = await dashboard(activity.id);
    const row = rows.find((r) => r.id === copy)!;
    expect(row.overQuota).toBe(true);
    expect(row.diskMb).toBeGreaterThanOrEqual(Math.floor(size / 2 ** 20)); // measured again after the stop
    const page = await fetch(`${stack.url}/activites/${activity.id}`, { headers: { cookie: await sessionCookie(stack, "prof") }, redirect: "manual" });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Espace dépassé");

    // Reopened: the student may delete files (the server runs, with a notice) but the copy may not grow.
    await startServer(stack, pats.alice!, copy);
    const reopened = await status(copy);
    expect(reopened.notice).toMatch(/Supprimez les fichiers trop gros/);
    const k2id = await startKernel(stack, pats.alice!, copy);
    const k2 = await KernelSocket.open(kernelWsUrl(stack, copy, k2id), { authorization: `Bearer ${pats.alice}` });
    await k2.execute(`import os\nopen("encore.bin", "wb").write(os.urandom(4 * 2**20))`).catch(() => null);
    k2.close();
    const again = await waitFor("the growing copy stopped again", async () => {
      const s = await status(copy);
      return s.status === "stopped" ? s : null;
    }, 30_000, 100);
    expect(again.error).toContain("Aucun fichier n'a été supprimé");
    expect(fs.statSync(path.join(stack.dataDir, "copies", copy, "encore.bin")).size).toBeGreaterThan(0);
    expect(sha256("donnees.bin")).toBe(smallSha);

    // Back under the quota (the student deleted the big files): the flag goes at the next measure.
    await startServer(stack, pats.alice!, copy);
    const k3id = await startKernel(stack, pats.alice!, copy);
    const k3 = await KernelSocket.open(kernelWsUrl(stack, copy, k3id), { authorization: `Bearer ${pats.alice}` });
    expect((await k3.execute(`import os\nfor f in ("resultats.bin", "encore.bin"): os.remove(f)`)).status).toBe("ok");
    k3.close();
    await waitFor("the flag cleared", async () => (await dashboard(activity.id)).find((r) => r.id === copy)?.overQuota === false, 30_000);
    const s = await status(copy);
    expect(s.status).toBe("running");
    expect(s.notice).toBeNull();
  });
});

/**
 * A portal that is not root cannot give students their own uids. Started for real as an ordinary user, it refuses
 * local servers unless the site opted in (CARNET_ALLOW_SHARED_UID=true), and says so loudly either way.
 */
async function startAsUser(uid: number, extra: Record<string, string>): Promise<Stack & { stderr: () => string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-nonroot-"));
  fs.chownSync(dataDir, uid, uid);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const distDir = process.env.CARNET_NEXT_DIST_DIR;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dataDir,
    NEXT_TELEMETRY_DISABLED: "1",
    LOG_LEVEL: "warn",
    PORT: String(port),
    CARNET_INTERNAL_PORT: String(await freePort()),
    CARNET_PROXY_API_PORT: String(await freePort()),
    CARNET_PUBLIC_URL: url,
    CARNET_DATA_DIR: dataDir,
    ...(distDir ? { CARNET_NEXT_DIST_DIR: distDir } : {}),
    ...extra,
  };
  let out = "";
  const child = spawn(process.execPath, ["--import", "tsx", "server/cli/main.ts", "start"], {
    cwd: root,
    env: env as NodeJS.ProcessEnv,
    uid,
    gid: uid,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  await waitFor("the portal run as an ordinary user", async () => {
    if (child.exitCode !== null) throw new Error(`portal exited (${child.exitCode}):\n${out}`);
    return out.includes("Carnet est prêt");
  }, 90_000).catch((e: Error) => {
    throw new Error(`${e.message}\n${out}`);
  });
  // The CLI (as root here) forwards to the running portal, which holds the database.
  const cli = async (args: string[], stdin?: string) => {
    const p = run(process.execPath, ["--import", "tsx", "server/cli/main.ts", ...args], { cwd: root, env: env as NodeJS.ProcessEnv });
    if (stdin !== undefined) p.child.stdin!.end(stdin);
    return (await p).stdout.trim();
  };
  return {
    url,
    port,
    dataDir,
    env,
    cli,
    addUser: async (username, role, password, name) => void (await cli(["user", "add", username, "--role", role, ...(name ? ["--name", name] : []), "--password-stdin"], password + "\n")),
    token: (username) => cli(["token", "create", username]),
    logs: () => out,
    stderr: () => out,
    restartPortal: () => Promise.reject(new Error("not here")),
    restartProxy: () => Promise.reject(new Error("not here")),
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(-child.pid!, "SIGTERM");
      const t = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
    },
  };
}

describe.skipIf(!isRoot)("a portal that is not root", () => {
  const uid = 200_000 + 70_000 + (process.pid % 10_000);
  let stack: (Stack & { stderr: () => string }) | undefined;
  afterAll(async () => teardown(stack, undefined));

  it("refuses to start students' servers as its own user, and says so at start", async () => {
    stack = await startAsUser(uid, {});
    expect(stack.stderr()).toContain("le portail ne tourne pas en root");
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD);
    const prof = await stack.token("prof");
    const alice = await stack.token("alice");
    const { code } = await createActivity(stack, prof);
    const copy = await openCopy(stack, alice, code);
    const res = await fetch(serverApi(stack, copy), { method: "POST", headers: { authorization: `Bearer ${alice}` } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("unavailable");
    expect(body.error.message).toMatch(/ne peut donc pas isoler les élèves/);
    const ps = execFileSync("ps", ["-u", String(uid), "-o", "args="], { encoding: "utf8" });
    expect(ps).not.toMatch(/jupyter/);
  });

  it("with CARNET_ALLOW_SHARED_UID=true it runs them as its own user, with a loud warning", async () => {
    await teardown(stack, undefined);
    stack = await startAsUser(uid, { CARNET_ALLOW_SHARED_UID: "true" });
    expect(stack.stderr()).toContain("ATTENTION");
    expect(stack.stderr()).toContain("CARNET_ALLOW_SHARED_UID=true");
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD);
    const prof = await stack.token("prof");
    const alice = await stack.token("alice");
    const { code } = await createActivity(stack, prof);
    const copy = await openCopy(stack, alice, code);
    await startServer(stack, alice, copy);
    const ps = execFileSync("ps", ["-u", String(uid), "-o", "args="], { encoding: "utf8" });
    expect(ps).toMatch(/jupyter/); // the student's server runs as the portal's own uid: what the site opted into
    await fetch(serverApi(stack, copy), { method: "DELETE", headers: { authorization: `Bearer ${prof}` } });
  });
});

describe("the limits' configuration", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-limits-env-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it("defaults: 2 servers per student, 300 MB per copy, never as the portal's own user", () => {
    const e = parseEnv({ CARNET_DATA_DIR: dataDir });
    expect([e.CARNET_MAX_SERVERS_PER_STUDENT, e.CARNET_COPY_QUOTA_MB, e.CARNET_ALLOW_SHARED_UID]).toEqual([2, 300, false]);
  });

  it("a quota that a new copy would already exceed, or a bad count, is refused with a French message", () => {
    expect(() => parseEnv({ CARNET_DATA_DIR: dataDir, CARNET_COPY_QUOTA_MB: "100", CARNET_MAX_ACTIVITY_MB: "200" })).toThrow(/CARNET_COPY_QUOTA_MB: doit dépasser CARNET_MAX_ACTIVITY_MB/);
    expect(() => parseEnv({ CARNET_DATA_DIR: dataDir, CARNET_MAX_SERVERS_PER_STUDENT: "0" })).toThrow(ConfigError);
    expect(() => parseEnv({ CARNET_DATA_DIR: dataDir, CARNET_ALLOW_SHARED_UID: "peut-être" })).toThrow(/CARNET_ALLOW_SHARED_UID: doit valoir true ou false/);
  });
});

/**
 * Deleting an activity, as the attack: its copies belong to students, who own every name in them, and the portal
 * removes them as root. A process of the student that is still running (their server's kernel, or a job that
 * outlived it) swaps folders of the copy for symlinks to a root-owned canary folder, and the canary's subfolders too,
 * as fast as it can while the deletion runs. The canary must survive untouched (files, modes, owner), the copies must
 * be gone, and the copies' real servers (local backend, real Jupyter, the copy's own uid) stopped before any file goes.
 * A path-based `fs.rm` under the same attack is run as the control, and the number of canary files it destroyed
 * is printed. Needs root (uids of their own).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setupTestDb, type TestDb } from "../testing/db";
import { stageUpload } from "../testing/upload";
import { createUser } from "../users";
import { createActivity } from "./create-activity";
import { deleteActivity } from "./delete-activity";
import { openCopy } from "../copies/open-copy";
import { copyDir } from "../storage";
import { registerServerStopper } from "../servers/hooks";
import { chownTree, allProcesses, procUid } from "@/spawner/proc";
import { createSpawner, execute, startKernel, waitForReady, type Spawner } from "@/spawner/index";
import { removeTree } from "../files/remove-tree";

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === "true") throw new Error("delete-activity attack tests need root under CI");

const PY = "/usr/bin/python3";
const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "markdown", id: "a", metadata: {}, source: ["# Exercice"] }] });

/**
 * The attacker's loop (Python, run in the copy folder as its student): folders `d0..d3` full of files, each swapped for a
 * symlink to the canary (and `d<i>/s` for a link to the canary's subfolder) and back, until `seconds` pass or the
 * copy is locked against it. Writes `pret` once the folders exist.
 */
function attackerCode(canary: string, seconds: number): string {
  return `
import os, threading, time
C = ${JSON.stringify(canary)}
for i in range(4):
    os.makedirs(f"d{i}/s", exist_ok=True)
    for j in range(60):
        open(f"d{i}/f{j}", "w").close(); open(f"d{i}/s/g{j}", "w").close()
open("pret", "w").close()
end = time.time() + ${seconds}
def swap(real, target):
    tmp = real + ".x"
    fails = 0
    while time.time() < end and fails < 2000:
        try:
            os.rename(real, tmp); os.symlink(target, real); os.unlink(real); os.rename(tmp, real); fails = 0
        except OSError:
            fails += 1
            try: os.symlink(target, real)
            except OSError: pass
threads = [threading.Thread(target=swap, args=(f"d{i}", C)) for i in range(4)]
threads += [threading.Thread(target=swap, args=(f"d{i}/s", C + "/sous")) for i in range(4)]
for t in threads: t.start()
for t in threads: t.join()
`;
}

describe.skipIf(!isRoot)("deleting an activity while its students race it", () => {
  let t: TestDb;
  let canary: string;
  let uidSeq = 27_000 + (process.pid % 1000) * 10;
  const attackers: ChildProcess[] = [];

  /** The canary's state: every file with its content, plus modes and owners of everything. */
  function canaryState(): string[] {
    const out: string[] = [];
    const walk = (p: string) => {
      const st = fs.lstatSync(p);
      out.push(`${path.relative(canary, p)} ${st.mode.toString(8)} ${st.uid}:${st.gid}${st.isFile() ? ` ${fs.readFileSync(p, "utf8")}` : ""}`);
      if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
    };
    walk(canary);
    return out;
  }

  beforeAll(async () => {
    t = await setupTestDb("pglite");
    fs.chmodSync(t.dataDir, 0o711); // students cross the data dir to their copy, as on a site
    fs.mkdirSync(path.dirname(copyDir("x")), { recursive: true, mode: 0o711 });
    canary = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-canary-"));
    fs.chmodSync(canary, 0o755);
    fs.mkdirSync(path.join(canary, "sous"), { mode: 0o755 });
    for (let j = 0; j < 60; j++) {
      fs.writeFileSync(path.join(canary, `f${j}`), `racine ${j}`, { mode: 0o644 });
      fs.writeFileSync(path.join(canary, "sous", `g${j}`), `sous ${j}`, { mode: 0o644 });
    }
  });

  afterAll(async () => {
    for (const a of attackers) a.kill("SIGKILL");
    await t?.close();
    if (canary) fs.rmSync(canary, { recursive: true, force: true });
  });

  /** An activity with one copy per student, each copy given to its own uid (as a server start does). */
  async function activityWithCopies(n: number, tag: string) {
    const teacher = await createUser({ username: `prof-${tag}`, role: "TEACHER" });
    const a = await createActivity({ owner: teacher, upload: stageUpload({ "Exercice.ipynb": NB }, "Exercice.ipynb") });
    const copies: { id: string; dir: string; uid: number }[] = [];
    for (let i = 0; i < n; i++) {
      const student = await createUser({ username: `eleve-${tag}-${i}`, role: "STUDENT" });
      const { copy } = await openCopy(student, a.code);
      const uid = ++uidSeq;
      await chownTree(copyDir(copy.id), uid, uid);
      copies.push({ id: copy.id, dir: copyDir(copy.id), uid });
    }
    return { teacher, activity: a, copies };
  }

  /** Starts the attacker in a copy as its student; resolves once its folders exist. */
  async function attack(dir: string, uid: number, seconds = 15): Promise<ChildProcess> {
    const p = spawn(PY, ["-c", attackerCode(canary, seconds)], { cwd: dir, uid, gid: uid, stdio: "ignore", env: { PATH: "/usr/bin:/bin" } as Record<string, string> as NodeJS.ProcessEnv });
    attackers.push(p);
    for (let i = 0; i < 200 && !fs.existsSync(path.join(dir, "pret")); i++) await new Promise((r) => setTimeout(r, 25));
    expect(fs.existsSync(path.join(dir, "pret"))).toBe(true);
    await new Promise((r) => setTimeout(r, 30)); // the swapping threads are running
    return p;
  }

  it("the control: a path-based fs.rm under the same attack (printed, not asserted: it is a race)", async () => {
    const before = canaryState();
    let lost = 0;
    for (let i = 0; i < 6; i++) {
      const dir = fs.mkdtempSync(path.join(path.dirname(copyDir("x")), "controle-"));
      const uid = ++uidSeq;
      fs.chownSync(dir, uid, uid);
      const p = await attack(dir, uid, 5);
      await fs.promises.rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
      p.kill("SIGKILL");
      await removeTree(dir);
      const now = canaryState();
      lost += before.filter((l) => !now.includes(l)).length;
      // Put the canary back for the real test.
      fs.mkdirSync(path.join(canary, "sous"), { recursive: true, mode: 0o755 });
      for (let j = 0; j < 60; j++) {
        fs.writeFileSync(path.join(canary, `f${j}`), `racine ${j}`, { mode: 0o644 });
        fs.writeFileSync(path.join(canary, "sous", `g${j}`), `sous ${j}`, { mode: 0o644 });
      }
    }
    console.log(`control: fs.rm as root under the attack destroyed or changed ${lost} canary entries in 6 deletions`);
    expect(canaryState()).toEqual(before);
  }, 120_000);

  it("many deletions raced by their students: the canary survives, the copies are gone", async () => {
    const before = canaryState();
    const rounds = 12;
    for (let r = 0; r < rounds; r++) {
      const { teacher, activity, copies } = await activityWithCopies(2, `r${r}`);
      const procs = await Promise.all(copies.map((c) => attack(c.dir, c.uid)));
      const res = await deleteActivity(teacher, activity.id);
      expect(res.copies).toBe(2);
      for (const p of procs) p.kill("SIGKILL");
      for (const c of copies) expect(fs.existsSync(c.dir), `copy ${c.id} left on disk`).toBe(false);
      expect(canaryState()).toEqual(before);
    }
  }, 240_000);

  it("the copies' real servers are stopped before their files go; a kernel racing the deletion changes nothing outside", async () => {
    const before = canaryState();
    const { teacher, activity, copies } = await activityWithCopies(2, "srv");
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-del-state-"));
    fs.chmodSync(stateDir, 0o711); // students' servers reach their runtime folders below it
    const spawners = new Map<string, Spawner>();
    const stopOrder: string[] = [];
    registerServerStopper(async (copyId) => {
      await spawners.get(copyId)?.stop(5_000);
      stopOrder.push(`${copyId}:${fs.existsSync(copyDir(copyId)) ? "files present" : "files gone"}`);
    });
    try {
      for (const c of copies) {
        const spec = { id: `del${c.id.slice(-8)}`, baseUrl: `/nb/${c.id}/`, workDir: c.dir, token: `tok-${c.id}-${"x".repeat(24)}`, memoryMb: 512, cpus: 1, uid: c.uid, gid: c.uid };
        const s = createSpawner("local", spec, { instanceId: `del${process.pid}`, stateDir });
        spawners.set(c.id, s);
        const { url } = await s.start();
        await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 90_000, isAlive: async () => (await s.poll()).running });
        const target = { url, baseUrl: spec.baseUrl, token: spec.token };
        const kernel = await startKernel(target);
        // The attack runs in a thread of the student's own kernel, which keeps going after the cell returns.
        const r = await execute(target, kernel, `import threading\nthreading.Thread(target=exec, args=(${JSON.stringify(attackerCode(canary, 30))}, {})).start()\nimport time, os\nfor _ in range(200):\n    if os.path.exists("pret"): break\n    time.sleep(0.025)\nprint(os.path.exists("pret"))`, 60_000);
        expect(r.stdout.trim()).toBe("True");
      }
      const res = await deleteActivity(teacher, activity.id);
      expect(res.copies).toBe(2);
      expect(stopOrder.sort()).toEqual(copies.map((c) => `${c.id}:files present`).sort());
      for (const [id, s] of spawners) expect((await s.poll()).running, `server of ${id}`).toBe(false);
      for (const c of copies) {
        expect(allProcesses().filter((p) => procUid(p.pid) === c.uid), `processes of uid ${c.uid}`).toEqual([]);
        expect(fs.existsSync(c.dir)).toBe(false);
      }
      expect(canaryState()).toEqual(before);
    } finally {
      await Promise.allSettled([...spawners.values()].map((s) => s.stop(2_000)));
      registerServerStopper(async () => undefined);
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  }, 240_000);
});

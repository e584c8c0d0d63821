/**
 * Attack: a student's code, running as their own uid on the portal's machine, reads or changes the site's files:
 * the secrets (forge any session, mint an admin token), the embedded database (every Jupyter token and password
 * hash), the run file, the proxy's route table (every Jupyter token), other copies, the activities' versions.
 *
 * 1. The start-up preparation (server/data-dir.ts) on an old install whose modes are all wrong: it repairs and
 *    reports them; then a process under a student's uid gets EACCES on each, while it can still use its own copy.
 * 2. A data dir below a folder that others cannot cross: `./carnet start` stops and says which folder and how.
 * 3. After a real `./carnet start` (whole stack), from a real kernel of one student, every read of the site's files
 *    fails; the copy's files are not hard links to the version's.
 */
import { execFile, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PGlite } from "@electric-sql/pglite";
import { blockedFolder, prepareDataDir } from "../data-dir";
import { startStack, type Stack } from "@/e2e/stack";
import { createActivity, KernelSocket, kernelWsUrl, NOTEBOOK_NAME, openCopy, PASSWORD, startKernel, startServer, teardown } from "../servers/live-test-helpers";
import { serverIdOf } from "../servers/server-id";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "../..");
const isRoot = process.getuid?.() === 0;
const PY = "/usr/bin/python3";
const STUDENT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } as Record<string, string> as NodeJS.ProcessEnv;
// Two students' uids, as the portal gives them (Copy.uid counts from 200000).
const ALICE = 200_000 + 60_000 + (process.pid % 10_000);
const BOB = ALICE + 1;

/**
 * Python, as `uid`, tries each operation; returns {label: "ok" | errno name}. What a kernel cell would do.
 * Operations: ["read", path] | ["list", path] | ["write", path] | ["create", path].
 */
async function tryAs(uid: number, ops: Record<string, [string, string]>): Promise<Record<string, string>> {
  const code = `
import json, os, sys, errno
ops = json.loads(sys.argv[1]); out = {}
for label, (op, p) in ops.items():
    try:
        if op == "read":
            with open(p, "rb") as f: f.read(1)
        elif op == "list": os.listdir(p)
        elif op == "write":
            with open(p, "r+b") as f: f.write(b"x")
        elif op == "create":
            with open(p, "xb") as f: f.write(b"x")
        out[label] = "ok"
    except OSError as e:
        out[label] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
`;
  const { stdout } = await run(PY, ["-c", code, JSON.stringify(ops)], { env: STUDENT_ENV, timeout: 20_000, uid, gid: uid, cwd: "/" });
  return JSON.parse(stdout) as Record<string, string>;
}

const mode = (p: string) => fs.statSync(p).mode & 0o7777;

describe.skipIf(!isRoot)("the site's files, repaired at start (server/data-dir.ts)", () => {
  let base: string;
  let data: string;
  beforeAll(async () => {
    // An install as an older Carnet (or a careless restore) left it: everything readable by everyone.
    base = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-datadir-"));
    fs.chmodSync(base, 0o755);
    data = path.join(base, "data");
    const dirs = ["secrets", "run", "proxy", "staging/up1", "activities/act1/v1", "copies/alice", "copies/bob", "history/ab", "servers/local/alice"];
    for (const d of dirs) fs.mkdirSync(path.join(data, d), { recursive: true, mode: 0o755 });
    for (const d of dirs) fs.chmodSync(path.join(data, d), 0o755);
    fs.chmodSync(data, 0o755);
    const files: Record<string, string> = {
      "secrets/auth-secret": "secret-auth",
      "secrets/proxy-secret": "secret-proxy",
      "secrets/initial-admin-password": "motdepasse",
      "run/portal.json": "{}",
      "proxy/routes.json": '{"version":1,"routes":{}}',
      "staging/up1/nb.ipynb": "{}",
      "activities/act1/v1/nb.ipynb": "{}",
      "history/ab/blob": "x",
      "copies/alice/nb.ipynb": "{}",
      "copies/bob/nb.ipynb": "{}",
      "servers/local/alice/state.json": "{}",
      "servers/local/alice/server.log": "log",
    };
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(data, f), text, { mode: 0o644 });
    for (const f of Object.keys(files)) fs.chmodSync(path.join(data, f), 0o644);
    for (const [who, uid] of [["alice", ALICE], ["bob", BOB]] as const) {
      fs.chownSync(path.join(data, "copies", who), uid, uid);
      fs.chownSync(path.join(data, "copies", who, "nb.ipynb"), uid, uid);
    }
    // The embedded database as PGlite leaves it: 0666 files under 0755 folders.
    const lite = new PGlite(path.join(data, "pglite"));
    await lite.waitReady;
    await lite.exec("CREATE TABLE t (x int); INSERT INTO t VALUES (1)");
    await lite.close();
    fs.chmodSync(path.join(data, "pglite"), 0o755);
    // The spawner's read-only Jupyter config, which every student's server must read: not the site's secret.
    fs.mkdirSync(path.join(data, "servers/jupyter/abc/config"), { recursive: true });
    fs.writeFileSync(path.join(data, "servers/jupyter/abc/config/jupyter_server_config.json"), "{}");
    for (const d of ["servers/jupyter", "servers/jupyter/abc", "servers/jupyter/abc/config"]) fs.chmodSync(path.join(data, d), 0o755);
    fs.chmodSync(path.join(data, "servers/jupyter/abc/config/jupyter_server_config.json"), 0o644);
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  const attacks = (d: string) => ({
    "list data dir": ["list", d],
    "list copies": ["list", path.join(d, "copies")],
    "auth secret": ["read", path.join(d, "secrets/auth-secret")],
    "proxy secret": ["read", path.join(d, "secrets/proxy-secret")],
    "admin password": ["read", path.join(d, "secrets/initial-admin-password")],
    "pglite PG_VERSION": ["read", path.join(d, "pglite/PG_VERSION")],
    "pglite pg_control": ["read", path.join(d, "pglite/global/pg_control")],
    "pglite write": ["write", path.join(d, "pglite/PG_VERSION")],
    "pglite create": ["create", path.join(d, "pglite/intrus")],
    "run file": ["read", path.join(d, "run/portal.json")],
    "route table": ["read", path.join(d, "proxy/routes.json")],
    "staging": ["read", path.join(d, "staging/up1/nb.ipynb")],
    "version": ["read", path.join(d, "activities/act1/v1/nb.ipynb")],
    "history": ["read", path.join(d, "history/ab/blob")],
    "other copy": ["read", path.join(d, "copies/bob/nb.ipynb")],
    "other copy listing": ["list", path.join(d, "copies/bob")],
    "server state": ["read", path.join(d, "servers/local/alice/state.json")],
    "server log": ["read", path.join(d, "servers/local/alice/server.log")],
  } as Record<string, [string, string]>);

  it("before: a student's process reads the secrets and the database (the attack works on the old modes)", async () => {
    const r = await tryAs(ALICE, attacks(data));
    expect(r["auth secret"]).toBe("ok");
    expect(r["pglite pg_control"]).toBe("ok");
    expect(r["pglite write"]).toBe("ok");
    expect(r["route table"]).toBe("ok");
  });

  it("after the preparation: every read, write and listing is refused; the student's own copy still works; the changes are reported", async () => {
    const repairs = prepareDataDir(data);
    const changed = new Set(repairs.map((r) => path.relative(data, r.path)));
    for (const p of ["", "secrets", "secrets/auth-secret", "pglite", "pglite/PG_VERSION", "run/portal.json", "proxy/routes.json", "activities", "staging", "history", "copies", "copies/bob", "servers/local/alice/state.json"])
      expect(changed, `repair of ${p || "the data dir"}`).toContain(p);
    expect(repairs.find((r) => r.path === data)?.change).toBe("0755 -> 0711");

    const r = await tryAs(ALICE, attacks(data));
    for (const [what, result] of Object.entries(r)) expect(`${what}: ${result}`).toBe(`${what}: EACCES`);
    // What the student needs keeps working: their own copy, and the way to it.
    const own = await tryAs(ALICE, { read: ["read", path.join(data, "copies/alice/nb.ipynb")], list: ["list", path.join(data, "copies/alice")], create: ["create", path.join(data, "copies/alice/new.py")] });
    expect(own).toEqual({ read: "ok", list: "ok", create: "ok" });
    const config = await tryAs(ALICE, { list: ["list", path.join(data, "servers/jupyter/abc/config")], read: ["read", path.join(data, "servers/jupyter/abc/config/jupyter_server_config.json")] });
    expect(config).toEqual({ list: "ok", read: "ok" });

    expect(mode(data)).toBe(0o711);
    expect(mode(path.join(data, "copies"))).toBe(0o711);
    expect(mode(path.join(data, "servers"))).toBe(0o711);
    expect(mode(path.join(data, "servers/local/alice"))).toBe(0o711);
    for (const tree of ["secrets", "pglite", "run", "proxy"]) {
      const loose = spawnSync("find", [path.join(data, tree), "-perm", "/077"], { encoding: "utf8" }).stdout.trim();
      expect(loose, `${tree}: group/other bits left`).toBe("");
    }
    // A second start finds nothing to repair.
    expect(prepareDataDir(data)).toEqual([]);
  });
});

describe.skipIf(!isRoot)("a data dir below a folder students cannot cross", () => {
  let base: string;
  beforeAll(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-blocked-")); // mkdtemp: 0700, as under /root or `mktemp -d`
  });
  afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

  it("./carnet start stops at once naming the folder and the fix, instead of every server failing later", () => {
    const data = path.join(base, "carnet", "data");
    const r = spawnSync(process.execPath, ["--import", "tsx", "server/cli/main.ts", "start"], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CARNET_DATA_DIR: data, PORT: "39871", LOG_LEVEL: "warn" } as Record<string, string> as NodeJS.ProcessEnv,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`« ${base} »`);
    expect(r.stderr).toContain(`chmod o+x ${base}`);
    expect(r.stderr).toContain("CARNET_DATA_DIR=");
    expect(fs.existsSync(path.join(data, "pglite"))).toBe(false); // stopped before the database was touched
    // And it is right: a student's uid really cannot reach the copies below it.
    fs.mkdirSync(path.join(data, "copies", "x"), { recursive: true });
    prepareDataDir(data);
    fs.chownSync(path.join(data, "copies", "x"), ALICE, ALICE);
    return tryAs(ALICE, { own: ["list", path.join(data, "copies", "x")] }).then((res) => expect(res.own).toBe("EACCES"));
  });

  it("after `chmod o+x` on that folder the check passes and the student's uid reaches its copy", async () => {
    const data = path.join(base, "carnet", "data");
    expect(blockedFolder(data)?.folder).toBe(base);
    fs.chmodSync(base, 0o711);
    expect(blockedFolder(data)).toBeNull();
    expect((await tryAs(ALICE, { own: ["list", path.join(data, "copies", "x")] })).own).toBe("ok");
  });
});

describe.skipIf(!isRoot)("after a real ./carnet start, from a student's kernel", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  let activityId: string;
  let aliceCopy: string;
  let bobCopy: string;
  let kernel: KernelSocket;
  beforeAll(async () => {
    stack = await startStack();
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    await stack.addUser("bob", "student", PASSWORD, "Bob Durand");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice"), bob: await stack.token("bob") };
    const a = await createActivity(stack, pats.prof!);
    activityId = a.id;
    aliceCopy = await openCopy(stack, pats.alice!, a.code);
    bobCopy = await openCopy(stack, pats.bob!, a.code);
    await startServer(stack, pats.bob!, bobCopy); // bob's server running: his token file and route exist
    await startServer(stack, pats.alice!, aliceCopy);
    const k = await startKernel(stack, pats.alice!, aliceCopy);
    kernel = await KernelSocket.open(kernelWsUrl(stack, aliceCopy, k), { authorization: `Bearer ${pats.alice}` });
  });
  afterAll(async () => {
    kernel?.close();
    await teardown(stack, pats?.prof);
  });

  it("every file of the site is refused (EACCES); the student's own copy is readable", async () => {
    const d = stack.dataDir;
    const pgFile = (await run("find", [path.join(d, "pglite", "base"), "-type", "f", "-size", "+8k"])).stdout.split("\n")[0]!;
    const targets: Record<string, [string, string]> = {
      "data dir listing": ["list", d],
      "copies listing": ["list", path.join(d, "copies")],
      "auth secret": ["read", path.join(d, "secrets/auth-secret")],
      "proxy secret": ["read", path.join(d, "secrets/proxy-secret")],
      "admin password": ["read", path.join(d, "secrets/initial-admin-password")],
      "pglite PG_VERSION": ["read", path.join(d, "pglite/PG_VERSION")],
      "pglite table file": ["read", pgFile],
      "pglite write": ["write", pgFile],
      "pglite create": ["create", path.join(d, "pglite/intrus")],
      "run file": ["read", path.join(d, "run/portal.json")],
      "route table": ["read", path.join(d, "proxy/routes.json")],
      "other copy": ["read", path.join(d, "copies", bobCopy, NOTEBOOK_NAME)],
      "other copy listing": ["list", path.join(d, "copies", bobCopy)],
      "version": ["read", path.join(d, "activities", activityId, "v1", NOTEBOOK_NAME)],
      "versions listing": ["list", path.join(d, "activities")],
      "other server's token": ["read", path.join(d, "servers", "local", serverIdOf(bobCopy), "token")],
      "other server's home": ["list", path.join(d, "servers", "local", serverIdOf(bobCopy), "home")],
      "own server state": ["read", path.join(d, "servers", "local", serverIdOf(aliceCopy), "state.json")],
      "own copy": ["read", path.join(d, "copies", aliceCopy, NOTEBOOK_NAME)],
    };
    const code = `
import json, os, errno
ops = json.loads(${JSON.stringify(JSON.stringify(targets))}); out = {}
for label, (op, p) in ops.items():
    try:
        if op == "read":
            with open(p, "rb") as f: f.read(1)
        elif op == "list": os.listdir(p)
        elif op == "write":
            with open(p, "r+b") as f: f.write(b"x")
        elif op == "create":
            with open(p, "xb") as f: f.write(b"x")
        out[label] = "ok"
    except OSError as e:
        out[label] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
`;
    // Outside any sandbox, a process under the copy's own uid: the modes alone refuse everything.
    const uid = fs.statSync(path.join(d, "copies", aliceCopy)).uid;
    expect(uid).toBeGreaterThanOrEqual(200_000);
    const plain = await tryAs(uid, targets);
    expect(plain["own copy"]).toBe("ok");
    // The spawner's runtime files may live elsewhere with its sandbox: refused or absent. The site's files: refused.
    const spawnerOwn = new Set(["other server's token", "other server's home", "own server state"]);
    for (const [what, result] of Object.entries(plain)) {
      if (what === "own copy") continue;
      if (spawnerOwn.has(what)) expect(["EACCES", "ENOENT"], `${what}: ${result}`).toContain(result);
      else expect(`${what}: ${result}`).toBe(`${what}: EACCES`);
    }

    // From the student's real kernel (inside the spawner's sandbox, when it has one): refused, or not even there.
    const res = await kernel.execute(code);
    expect(res.status, res.error).toBe("ok");
    const out = JSON.parse(res.text) as Record<string, string>;
    expect(out["own copy"]).toBe("ok"); // the kernel really is where the attack would start
    for (const [what, result] of Object.entries(out)) {
      if (what === "own copy") continue;
      if (targets[what]![0] === "list" && result === "ok") continue; // a sandbox's own view of the folder: below
      expect(["EACCES", "ENOENT"], `${what}: ${result}`).toContain(result);
    }
    const ls = async (dir: string) =>
      JSON.parse((await kernel.execute(`import os, json\ntry: print(json.dumps(os.listdir(${JSON.stringify(dir)})))\nexcept OSError: print("[]")`)).text) as string[];
    const top = await ls(d);
    for (const name of ["secrets", "pglite", "run", "proxy", "activities", "staging"]) expect(top).not.toContain(name);
    expect(await ls(path.join(d, "copies"))).not.toContain(bobCopy);
  });

  it("the site's private trees have no group/other bits; the copy's files are its own inodes, not links to the version's", async () => {
    const d = stack.dataDir;
    for (const tree of ["secrets", "pglite", "run", "proxy", "activities", "staging"]) {
      expect(mode(path.join(d, tree)), tree).toBe(0o700);
      const loose = (await run("find", [path.join(d, tree), "-perm", "/066"])).stdout.trim();
      expect(loose, `${tree}: readable or writable by others`).toBe("");
    }
    expect(mode(d)).toBe(0o711);
    expect(mode(path.join(d, "copies"))).toBe(0o711);
    expect(mode(path.join(d, "copies", aliceCopy))).toBe(0o700);
    // A hard link from a version into a copy would hand the version's inode to the student (chown at start).
    const version = path.join(d, "activities", activityId, "v1");
    for (const name of fs.readdirSync(version)) {
      const v = fs.statSync(path.join(version, name));
      const c = fs.statSync(path.join(d, "copies", aliceCopy, name));
      expect(c.ino).not.toBe(v.ino);
      expect(v.uid).toBe(0);
      expect(c.nlink).toBe(1);
    }
  });
});

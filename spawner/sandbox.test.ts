/**
 * The student's server as a sandbox, written as the attack: a real kernel of a real server (local: as root with the
 * copy's own uid; docker: the private engine) runs what a hostile student would, and each attack must fail.
 * docs/security.md, "Le bac à sable des serveurs", lists what each test proves. The docker half needs DOCKER_HOST
 * (scripts/docker-engine.sh build-image); under CI=true it fails instead of skipping when the engine is missing.
 */
import { existsSync, mkdirSync, mkdtempSync, chmodSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerClient, EGRESS_NETWORK, removeEgressNetworkIfUnused } from "./docker";
import { cleanupEgress, egressInterfacesInUse, egressLeftovers, FORWARD_SAVED } from "./egress";
import { request } from "./http";
import { createSpawner, execute, jupyterFetch, startKernel, waitForReady, type BackendName, type BackendOptions, type JupyterTarget, type SpawnSpec, type Spawner } from "./index";
import { allProcesses, procUid } from "./proc";

const isRoot = process.getuid?.() === 0;
const dockerHost = process.env.DOCKER_HOST ?? (existsSync("/var/run/docker.sock") ? "unix:///var/run/docker.sock" : undefined);
const image = process.env.CARNET_IMAGE ?? "carnet-jupyter:latest";

async function dockerWhyNot(): Promise<string | null> {
  if (!dockerHost) return "no DOCKER_HOST (scripts/docker-engine.sh build-image prints it)";
  try {
    const d = dockerClient(dockerHost);
    await d.ping();
    await d.getImage(image).inspect();
    return null;
  } catch (err) {
    return `engine ${dockerHost} or image ${image} unavailable: ${(err as Error).message}`;
  }
}
const dockerWhy = await dockerWhyNot();
if (dockerWhy && process.env.CI === "true") throw new Error(`docker sandbox tests cannot run under CI: ${dockerWhy}`);
if (dockerWhy) console.warn(`\n*** SKIPPING the docker half of the sandbox tests: ${dockerWhy} ***\n`);
// Without root the local backend has no sandbox at all (one user for everything): nothing to attack.
const localWhy = isRoot ? null : "the local sandbox needs the portal to run as root";
if (localWhy && process.env.CI === "true") throw new Error(`local sandbox tests cannot run under CI: ${localWhy}`);

// The portal's own umask (server/data-dir.ts SITE_UMASK): whatever the spawner writes for students must not
// depend on a looser one.
process.umask(0o066);
const base = mkdtempSync(path.join(os.tmpdir(), "carnet-sandbox-"));
chmodSync(base, 0o711);
const started: Spawner[] = [];
let seq = 0;

// Services on the host the kernels must not reach: the machine's own (PostgreSQL, Redis, when they run) and two
// listeners of ours, one on loopback and one on the host's own non-loopback address (where a service bound to
// 0.0.0.0 is reachable; bound to that one address, not 0.0.0.0, for the few seconds of the suite). They count
// connections: any connection is a failure.
const hostAddress = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;
const listeners: { server: net.Server; host: string; port: number; accepted: number }[] = [];
async function listen(host: string): Promise<(typeof listeners)[number]> {
  const l = { server: net.createServer(), host, port: 0, accepted: 0 };
  l.server.on("connection", (c) => {
    l.accepted++;
    c.destroy();
  });
  await new Promise<void>((resolve, reject) => l.server.once("error", reject).listen(0, host, () => resolve()));
  l.port = (l.server.address() as net.AddressInfo).port;
  listeners.push(l);
  return l;
}

/** Whether this process connects to host:port within 3 s. */
function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 3_000 });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
  });
}

// A public address the host reaches, to check that "Internet allowed" really allows it (resolved here).
let internet: { ip: string; port: number } | null = null;

// The machine as the suite found it (IPv4 forwarding, Carnet's firewall chains, the docker bridge), and what the
// egress tests added meanwhile: the last test checks that the teardown puts it back.
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
let forwardBefore = "";
const egressSeen: string[] = [];

/** What the suite's teardown does (and `./carnet` when a site stops): bridge network, then the host rules. */
async function cleanupNetwork() {
  if (!isRoot) return { removed: [], keptFor: [] };
  if (!dockerWhy) await removeEgressNetworkIfUnused(dockerHost);
  return cleanupEgress();
}

beforeAll(async () => {
  forwardBefore = existsSync(FORWARD_SAVED) ? readFileSync(FORWARD_SAVED, "utf8").trim() : readFileSync(IP_FORWARD, "utf8").trim();
  await listen("127.0.0.1");
  if (hostAddress) await listen(hostAddress);
  const ip = (await import("node:dns/promises").then((d) => d.lookup("deb.debian.org", { family: 4 }).catch(() => null)))?.address;
  if (ip && (await canConnect(ip, 80))) internet = { ip, port: 80 };
  if (!internet) console.warn("*** the host itself reaches no public address: outbound access is not checked ***");
}, 30_000);

afterAll(async () => {
  await Promise.allSettled(started.map((s) => s.stop(2_000)));
  await cleanupNetwork().catch((err: unknown) => console.warn(`egress cleanup: ${String(err)}`));
  for (const l of listeners) l.server.close();
  rmSync(base, { recursive: true, force: true });
}, 120_000);

/** Runs Python in the kernel; the code prints one JSON value, returned parsed. */
async function py<T = unknown>(t: JupyterTarget, kernel: string, code: string, timeoutMs = 60_000): Promise<T> {
  const r = await execute(t, kernel, code, timeoutMs);
  if (r.status !== "ok") throw new Error(`kernel: ${r.status} ${r.error ?? ""}\n${r.stdout}`);
  const last = r.stdout.trim().split("\n").at(-1) ?? "";
  return JSON.parse(last) as T;
}

const PROBE = `
import json, socket, errno
def probe(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); s.settimeout(4)
    try:
        s.connect((host, port)); return "OPEN"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e)) if e.errno else type(e).__name__
    finally:
        s.close()
`;

describe.each([
  { name: "local" as BackendName, skip: localWhy },
  { name: "docker" as BackendName, skip: dockerWhy },
])("sandbox: $name", ({ name, skip }) => {
  const opts: BackendOptions = { instanceId: `sb${process.pid}${name[0]}`, stateDir: path.join(base, `state-${name}`), docker: { host: dockerHost, image } };

  function makeSpec(overrides: Partial<SpawnSpec> = {}): SpawnSpec {
    const id = `s${++seq}`;
    const workDir = path.join(base, `${name}-${id}`);
    mkdirSync(workDir, { recursive: true });
    const uid = 26_000 + seq;
    return { id, baseUrl: `/nb/${id}/`, workDir, token: `tok-${id}-${"s".repeat(24)}`, memoryMb: 512, cpus: 1, uid, gid: uid, ...overrides };
  }

  async function startReady(spec: SpawnSpec): Promise<{ spawner: Spawner; target: JupyterTarget; kernel: string }> {
    const spawner = createSpawner(name, spec, opts);
    started.push(spawner);
    const { url } = await spawner.start();
    await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 90_000, isAlive: async () => (await spawner.poll()).running });
    const target = { url, baseUrl: spec.baseUrl, token: spec.token };
    return { spawner, target, kernel: await startKernel(target) };
  }

  describe.skipIf(skip !== null)("attacks", { timeout: 240_000 }, () => {
    for (const allowNetwork of [false, true]) {
      it(`${allowNetwork ? "with" : "without"} Internet access: nothing of the host is reachable (5432, 6379, our listeners, other servers)`, async () => {
        const other = await startReady(makeSpec());
        const { spawner, target, kernel } = await startReady(makeSpec({ allowNetwork }));
        const targets = [
          ["127.0.0.1", 5432],
          ["127.0.0.1", 6379],
          ...listeners.map((l) => [l.host, l.port] as const),
        ] as const;
        const res = await py<string[]>(target, kernel, `${PROBE}\nprint(json.dumps([probe(h, p) for h, p in ${JSON.stringify(targets)}]))`);
        expect(res).toHaveLength(targets.length);
        for (const [i, r] of res.entries()) expect(r, `${targets[i]![0]}:${targets[i]![1]}`).not.toBe("OPEN");
        for (const l of listeners) expect(l.accepted, `${l.host}:${l.port} accepted a connection`).toBe(0);

        // Another student's server: a Unix socket only its uid (and root) may open, in a folder nobody can change.
        const sock = other.target.url.replace(/^unix:/, "");
        const cross = await py<string>(
          target,
          kernel,
          `import json, socket\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(${JSON.stringify(sock)}); r = "OPEN"\nexcept OSError as e:\n    r = type(e).__name__\nprint(json.dumps(r))`,
        );
        expect(cross).toMatch(/^(PermissionError|FileNotFoundError)$/);

        if (internet) {
          const out = await py<string>(target, kernel, `${PROBE}\nprint(json.dumps(probe(${JSON.stringify(internet.ip)}, ${internet.port})))`);
          if (allowNetwork) expect(out, "Internet allowed: a public address answers").toBe("OPEN");
          else expect(out).not.toBe("OPEN");
        }
        if (allowNetwork) {
          egressSeen.push(...(await egressLeftovers()), ...egressInterfacesInUse());
          // DNS works through the host's nameservers (they are exempt from the blocked private ranges).
          const dns = await py<string>(target, kernel, `import json, socket\ntry:\n    r = socket.getaddrinfo("deb.debian.org", 80)[0][4][0]\nexcept OSError as e:\n    r = "ERR " + str(e)\nprint(json.dumps(r))`);
          if (internet) expect(dns).not.toMatch(/^ERR/);
        }
        await spawner.stop();
        await other.spawner.stop();
      });
    }

    it("/tmp and /dev/shm are capped, private to the server, and gone after it stops", async () => {
      const aSpec = makeSpec({ tmpMb: 32, shmMb: 16 });
      const a = await startReady(aSpec);
      const b = await startReady(makeSpec());
      const fill = (dir: string) => `
import json, errno, os
n = 0
try:
    with open(${JSON.stringify(dir)} + "/fill", "wb") as f:
        for i in range(100):
            f.write(b"x" * 1048576); f.flush(); n += 1
    r = "no error"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e))
os.unlink(${JSON.stringify(dir)} + "/fill")
print(json.dumps([r, n]))`;
      const [tmpErr, tmpMb] = await py<[string, number]>(a.target, a.kernel, fill("/tmp"));
      expect(tmpErr).toBe("ENOSPC");
      expect(tmpMb).toBeLessThanOrEqual(32);
      const [shmErr, shmMb] = await py<[string, number]>(a.target, a.kernel, fill("/dev/shm"));
      expect(shmErr).toBe("ENOSPC");
      expect(shmMb).toBeLessThanOrEqual(16);

      const marker = `secret-${aSpec.id}`;
      const dirs = name === "local" ? ["/tmp", "/dev/shm", "/var/tmp"] : ["/tmp", "/dev/shm"];
      await py(a.target, a.kernel, `import json\nfor d in ${JSON.stringify(dirs)}:\n    open(d + "/${marker}", "w").write("A")\nprint(json.dumps(1))`);
      // Invisible to another student's server, and (local) to the host.
      const seen = await py<string[]>(b.target, b.kernel, `import json, os\nprint(json.dumps([d for d in ${JSON.stringify(dirs)} if os.path.exists(d + "/${marker}")]))`);
      expect(seen).toEqual([]);
      for (const d of dirs) expect(existsSync(path.join(d, marker)), `host ${d}`).toBe(false);

      const st = a.spawner.getState();
      const mntNs = name === "local" ? readlinkSync(`/proc/${st.pid as number}/ns/mnt`) : null;
      await a.spawner.stop();
      if (mntNs) {
        // The tmpfs lives in the server's mount namespace, which dies with its last process: none is left.
        const inNs = allProcesses().filter((p) => {
          try {
            return readlinkSync(`/proc/${p.pid}/ns/mnt`) === mntNs;
          } catch {
            return false;
          }
        });
        expect(inNs).toEqual([]);
      }
      // Started again: a new, empty /tmp.
      const again = createSpawner(name, aSpec, opts);
      started.push(again);
      const { url } = await again.start();
      await waitForReady(url, aSpec.baseUrl, aSpec.token, { timeoutMs: 90_000 });
      const t2 = { url, baseUrl: aSpec.baseUrl, token: aSpec.token };
      const left = await py<string[]>(t2, await startKernel(t2), `import json, os\nprint(json.dumps([d for d in ${JSON.stringify(dirs)} if os.path.exists(d + "/${marker}")]))`);
      expect(left).toEqual([]);
      await again.stop();
      await b.spawner.stop();
    });

    it("a fork bomb stops at the pids limit, and the server still stops", async () => {
      const spec = makeSpec({ pidsLimit: 96 });
      const { spawner, target, kernel } = await startReady(spec);
      const [n, err] = await py<[number, string]>(
        target,
        kernel,
        `import json, subprocess, errno
procs = []; err = "none"
for i in range(2000):
    try:
        procs.append(subprocess.Popen(["sleep", "600"], start_new_session=True))
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e)); break
print(json.dumps([len(procs), err]))`,
        120_000,
      );
      expect(err).toBe("EAGAIN");
      expect(n).toBeLessThan(96);
      const t0 = Date.now();
      await spawner.stop(5_000);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect((await spawner.poll()).running).toBe(false);
      if (name === "local") expect(allProcesses().filter((p) => procUid(p.pid) === spec.uid)).toEqual([]);
    });

    it("a custom.js or config written by the student changes nothing the server serves", async () => {
      const { spawner, target, kernel } = await startReady(makeSpec());
      const before = await (await jupyterFetch(target, "GET", "custom/custom.js")).text();
      const writes = await py<Record<string, string>>(
        target,
        kernel,
        `import json, os
out = {}
def attempt(p, text):
    try:
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f: f.write(text)
        out[p] = "written"
    except OSError as e:
        out[p] = type(e).__name__
home = os.path.expanduser("~")
attempt(home + "/.jupyter/custom/custom.js", "alert('pwned by the student')")
attempt(home + "/.jupyter/jupyter_server_config.py", "c.ServerApp.quit_button = True")
attempt(os.environ["JUPYTER_CONFIG_DIR"] + "/custom/custom.js", "alert('pwned by the student')")
attempt(os.environ["JUPYTER_CONFIG_DIR"] + "/jupyter_server_config.py", "c.ServerApp.quit_button = True")
attempt(os.environ["JUPYTER_DATA_DIR"] + "/nbextensions/evil/main.js", "alert('pwned')")
print(json.dumps(out))`,
      );
      const entries = Object.entries(writes);
      expect(entries).toHaveLength(5);
      // Their own home they may write; Jupyter's config and data dirs they may not.
      for (const [p, r] of entries) if (!p.includes("/.jupyter/")) expect(r, p).toMatch(/PermissionError|OSError/);
      const served = await (await jupyterFetch(target, "GET", "custom/custom.js")).text();
      expect(served).toBe(before);
      expect(served).not.toContain("pwned");
      expect(await (await jupyterFetch(target, "GET", "tree")).text()).not.toContain('id="shutdown"');
      // The frontend config API cannot load an extension either (it writes to the read-only config dir).
      const patch = await jupyterFetch(target, "PATCH", "api/config/notebook", { load_extensions: { "evil/main": true } });
      expect(patch.status).toBeGreaterThanOrEqual(400);
      expect(await (await jupyterFetch(target, "GET", "api/config/notebook")).text()).not.toContain("evil");
      await spawner.stop();
    });

    it("no TCP port to squat: the server is a sealed Unix socket, and a kernel's listener is unreachable from the host", async () => {
      const spec = makeSpec();
      const { spawner, target, kernel } = await startReady(spec);
      expect(target.url).toMatch(/^unix:\//);
      const sock = target.url.replace(/^unix:/, "");
      const inside = name === "local" ? sock : "/carnet-run/jupyter.sock";
      const [port, tries] = await py<[number, Record<string, string>]>(
        target,
        kernel,
        `import json, os, socket
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(5)
tries = {}
def attempt(label, f):
    try:
        f(); tries[label] = "done"
    except OSError as e:
        tries[label] = type(e).__name__
p = ${JSON.stringify(inside)}
attempt("unlink", lambda: os.unlink(p))
attempt("rename", lambda: os.rename(p, p + ".old"))
attempt("symlink", lambda: os.symlink("/var/run/docker.sock", p + ".evil"))
print(json.dumps([srv.getsockname()[1], tries]))`,
      );
      expect(tries).toEqual({ unlink: "PermissionError", rename: "PermissionError", symlink: "PermissionError" });
      // The kernel listens in its own network namespace: on the host that port is not the student's.
      expect(await canConnect("127.0.0.1", port)).toBe(false);
      // No TCP socket of the student's uid listens in the host's network namespace (/proc/net/tcp, state 0A).
      const tcp = `${readFileSync("/proc/net/tcp", "utf8")}${readFileSync("/proc/net/tcp6", "utf8")}`;
      const mine = tcp.split("\n").filter((l) => {
        const c = l.trim().split(/\s+/);
        return c[3] === "0A" && Number(c[7]) === spec.uid;
      });
      expect(mine).toEqual([]);
      expect((await request(target.url, `${spec.baseUrl}api/status`, { headers: { authorization: `token ${spec.token}` } })).status).toBe(200);
      await spawner.stop();
    });

    it("the kernel can neither ptrace nor read its server, has no_new_privs, a file-size cap, and (local) sees only its own processes", async () => {
      const spec = makeSpec({ maxFileMb: 8 });
      const { spawner, target, kernel } = await startReady(spec);
      const r = await py<{ ptrace: number; environ: string; nnp: string; big: string; foreign: number; pid1: boolean }>(
        target,
        kernel,
        `import json, os, ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
ppid = os.getppid()
pt = libc.ptrace(16, ppid, 0, 0)  # PTRACE_ATTACH to the Jupyter server
if pt == 0:
    libc.ptrace(17, ppid, 0, 0)
try:
    open("/proc/%d/environ" % ppid, "rb").read(); env = "read"
except OSError as e:
    env = type(e).__name__
nnp = [l.split()[1] for l in open("/proc/self/status") if l.startswith("NoNewPrivs")][0]
try:
    with open("big.bin", "wb") as f:
        for i in range(20): f.write(b"x" * 1048576); f.flush()
    big = "no error"
except OSError as e:
    big = errno.errorcode.get(e.errno, str(e))
os.unlink("big.bin")
me = os.getuid(); foreign = 0
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            if os.stat("/proc/" + d).st_uid != me: foreign += 1
        except OSError:
            pass
print(json.dumps({"ptrace": pt, "environ": env, "nnp": nnp, "big": big, "foreign": foreign, "pid1": os.path.exists("/proc/1/status")}))`,
      );
      expect(r.ptrace).toBe(-1);
      expect(r.environ).toMatch(/PermissionError|FileNotFoundError/);
      expect(r.nnp).toBe("1");
      expect(r.big).toBe("EFBIG");
      if (name === "local") {
        // hidepid=invisible: no process of another user (root, the portal, other students) is even listed.
        expect(r.foreign).toBe(0);
        expect(r.pid1).toBe(false);
      }
      await spawner.stop();
    });
  });

  if (skip) it.skip(`${name} sandbox skipped: ${skip}`, () => {});
});

describe.skipIf(!isRoot)("the machine after the egress tests", () => {
  it("stopped servers and the teardown leave no Carnet chain, no carnet-inet bridge, and IPv4 forwarding as it was", { timeout: 120_000 }, async () => {
    // The egress tests did change the machine (rules, a veth or the bridge), so this checks a real cleanup.
    expect(egressSeen.some((l) => /CARNET-/.test(l)), "the Internet tests installed Carnet's rules").toBe(true);
    await Promise.allSettled(started.map((s) => s.stop(2_000)));
    const r = await cleanupNetwork();
    if (r.keptFor.length) {
      // Another Carnet on this machine (a parallel run) has servers with Internet access: its rules must stay.
      console.warn(`*** egress rules kept for interfaces of another run: ${r.keptFor.join(", ")}; machine state not checked ***`);
      return;
    }
    expect(await egressLeftovers()).toEqual([]);
    expect(readFileSync(IP_FORWARD, "utf8").trim()).toBe(forwardBefore);
    expect(existsSync("/sys/class/net/carnet-inet")).toBe(false);
    if (!dockerWhy) await expect(dockerClient(dockerHost).getNetwork(EGRESS_NETWORK).inspect()).rejects.toMatchObject({ statusCode: 404 });
    // Cleaning twice is harmless, and a new server with Internet access gets its rules back (ensureEgressRules).
    expect((await cleanupNetwork()).removed).toEqual([]);
  });
});

/**
 * Starts the whole portal for end-to-end tests, as `./carnet start` does (proxy on the public port, Next.js
 * production build behind it), on free 127.0.0.1 ports with a fresh data directory. Stops it by process group.
 */
import { spawn, execFile, execFileSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const root = path.resolve(import.meta.dirname, "..");
const exec = promisify(execFile);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A port for one of the stack's listeners: random in 20000–32767, below Linux's ephemeral range (32768–60999, where
 * `listen(0)` and every outgoing connection's source port come from), so the gap between this check and the
 * child's own bind is not raced by the many short connections and `freePort()`s of the other tests. Checked free by
 * binding it; falls back to `freePort()`. Still a race in principle: startStack retries on EADDRINUSE.
 */
export async function stackPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_768);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.unref();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  return freePort();
}

/** How many times startStack picks new ports when one it picked was taken before the child bound it. */
export const STACK_START_ATTEMPTS = 4;
/** What the portal's children print when a port they were given is taken (Node's listen error). */
const ADDR_IN_USE = /EADDRINUSE|address already in use/i;

export interface Stack {
  url: string;
  port: number;
  dataDir: string;
  env: Record<string, string>;
  /** Creates a local account through the CLI (forwarded to the running portal). */
  addUser(username: string, role: "teacher" | "student" | "admin", password: string, name?: string, klass?: string): Promise<void>;
  /** A new personal access token for a user, through the CLI. */
  token(username: string): Promise<string>;
  /** Runs `./carnet <args>` against this stack. */
  cli(args: string[], stdin?: string): Promise<string>;
  /** Kills the Next.js process (the supervisor restarts it; the proxy keeps running), as a portal redeploy would. */
  restartPortal(): Promise<void>;
  /** Kills the proxy process (the supervisor restarts it). */
  restartProxy(): Promise<void>;
  stop(): Promise<void>;
  logs(): string;
}

export interface StackOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /** For the tests of this file: the ports to try first, in place of stackPort()'s (public, internal, proxy API). */
  ports?: () => Promise<[number, number, number]>;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  // Several builds can live side by side (CARNET_NEXT_DIST_DIR, see next.config.js): use the one asked for.
  const distDir = opts.env?.CARNET_NEXT_DIST_DIR || process.env.CARNET_NEXT_DIST_DIR || ".next";
  if (!fs.existsSync(path.join(root, distDir, "BUILD_ID")))
    throw new Error(`No production build in ${distDir}: run \`./carnet test\` (or \`npx next build\`) first.`);
  // The ports are picked here and bound by the grandchildren (proxy, Next.js) a few seconds later: another process
  // can take one in between. Then a child dies with EADDRINUSE (the supervisor would restart it on the same taken
  // port): the whole start is killed and done again with new ports (and a new data directory unless one was given:
  // the killed start may have been writing its database).
  let ports = opts.ports;
  for (let attempt = 1; ; attempt++) {
    const [port, internalPort, apiPort] = ports ? await ports() : await threePorts();
    ports = undefined;
    const dataDir = opts.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "carnet-e2e-"));
    const started = await startOnce(opts, distDir, dataDir, port, internalPort, apiPort);
    if ("stack" in started) return started.stack;
    if (!opts.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    if (!started.addrInUse || attempt >= STACK_START_ATTEMPTS) throw started.error;
    console.warn(`[stack] a port was taken before the portal bound it (attempt ${attempt}/${STACK_START_ATTEMPTS}): new ports`);
  }
}

/** Three different stackPort()s (each is released after its check, so two picks could be the same). */
async function threePorts(): Promise<[number, number, number]> {
  const picked = new Set<number>();
  while (picked.size < 3) picked.add(await stackPort());
  return [...picked] as [number, number, number];
}

/** Whether process `pid` holds a listening TCP socket on 127.0.0.1/any address for each of `ports` (Linux /proc). */
export function listensOn(pid: number, ports: number[]): boolean {
  const inodes = new Map<string, number>();
  for (const f of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = fs.readFileSync(f, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== "0A") continue; // 0A: LISTEN
      inodes.set(cols[9]!, parseInt(cols[1]!.split(":")[1]!, 16));
    }
  }
  const held = new Set<number>();
  let fds: string[] = [];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  for (const fd of fds) {
    let link = "";
    try {
      link = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    const p = m ? inodes.get(m[1]!) : undefined;
    if (p !== undefined) held.add(p);
  }
  return ports.every((p) => held.has(p));
}

/** Kills the portal's process group and waits for the supervisor to exit. */
async function killGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    /* gone */
  }
  await exited;
}

async function startOnce(
  opts: StackOptions,
  distDir: string,
  dataDir: string,
  port: number,
  internalPort: number,
  apiPort: number,
): Promise<{ stack: Stack } | { error: Error; addrInUse: boolean }> {
  const url = `http://127.0.0.1:${port}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: process.env.HOME ?? "/root",
    NEXT_TELEMETRY_DISABLED: "1",
    LOG_LEVEL: "warn",
    PORT: String(port),
    CARNET_INTERNAL_PORT: String(internalPort),
    CARNET_PROXY_API_PORT: String(apiPort),
    CARNET_PUBLIC_URL: url,
    CARNET_DATA_DIR: dataDir,
    ...(process.env.DOCKER_HOST ? { DOCKER_HOST: process.env.DOCKER_HOST } : {}),
    ...(distDir !== ".next" ? { CARNET_NEXT_DIST_DIR: distDir } : {}),
    ...opts.env,
  };
  let out = "";
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", "server/cli/main.ts", "start"], {
    cwd: root,
    env: env as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const ready = await new Promise<true | Error>((resolve) => {
    const timer = setTimeout(() => resolve(new Error(`portal did not start in 120 s:\n${out}`)), 120_000);
    const check = () => {
      // A child that could not bind is restarted by the supervisor on the same taken port: give up on these ports
      // at once (and also when the ready line came: the health check may have been answered by whoever has the port).
      if (ADDR_IN_USE.test(out)) {
        clearTimeout(timer);
        resolve(new Error(`a port was taken (public ${port}, internal ${internalPort}, proxy API ${apiPort}):\n${out}`));
      } else if (out.includes("Carnet est prêt")) {
        clearTimeout(timer);
        resolve(true);
      }
    };
    child.stdout!.on("data", check);
    child.stderr!.on("data", check);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve(new Error(`portal exited (${code}) during start:\n${out}`));
    });
  });
  const runFile = path.join(dataDir, "run", "portal.json");
  if (ready === true) {
    // « prêt » only says that something answered /api/v1/health on the public port: make sure it is this portal's
    // proxy (and that this Next.js has the internal port), not whoever took the port in between.
    const run = JSON.parse(fs.readFileSync(runFile, "utf8")) as Record<string, number>;
    const mine = listensOn(run.proxyPid!, [port, apiPort]) && listensOn(run.nextPid!, [internalPort]);
    if (!mine) {
      await killGroup(child);
      return { error: new Error(`another process answers on one of the ports (public ${port}, internal ${internalPort}, proxy API ${apiPort}):\n${out}`), addrInUse: true };
    }
  } else {
    await killGroup(child);
    return { error: ready, addrInUse: ADDR_IN_USE.test(out) };
  }

  /** Kills one child of the supervisor and waits until its replacement answers. */
  const restart = async (which: "nextPid" | "proxyPid") => {
    const before = JSON.parse(fs.readFileSync(runFile, "utf8")) as Record<string, number>;
    process.kill(before[which]!, "SIGKILL");
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      const now = JSON.parse(fs.readFileSync(runFile, "utf8")) as Record<string, number>;
      if (now[which] === before[which]) continue;
      const ok =
        which === "nextPid"
          ? await fetch(`http://127.0.0.1:${env.CARNET_INTERNAL_PORT}/api/v1/health`).then((r) => r.ok, () => false)
          : await fetch(`${url}/api/v1/health`).then((r) => r.ok, () => false);
      if (ok) return;
    }
    throw new Error(`${which} did not come back:\n${out}`);
  };
  const cli = async (args: string[], stdin?: string) => {
    const p = exec(process.execPath, ["--import", "tsx", "server/cli/main.ts", ...args], { cwd: root, env: env as NodeJS.ProcessEnv });
    if (stdin !== undefined) {
      p.child.stdin!.end(stdin);
    }
    const { stdout } = await p;
    return stdout.trim();
  };

  const stack: Stack = {
    url,
    port,
    dataDir,
    env,
    cli,
    async addUser(username, role, password, name, klass) {
      await cli(["user", "add", username, "--role", role, ...(name ? ["--name", name] : []), ...(klass ? ["--class", klass] : []), "--password-stdin"], password + "\n");
    },
    async token(username) {
      return cli(["token", "create", username]);
    },
    logs: () => out,
    restartPortal: () => restart("nextPid"),
    restartProxy: () => restart("proxyPid"),
    async stop() {
      if (child.exitCode !== null) return;
      // Students' servers outlive a portal stop by design (they are adopted at the next start): tests stop them.
      await cli(["servers", "stop-all"]).catch((e) => console.warn(`servers stop-all failed: ${e}`));
      const exited = new Promise((r) => child.once("exit", r));
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        /* already gone */
      }
      const t = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* gone */
        }
      }, 10_000);
      await exited;
      clearTimeout(t);
    },
  };
  return { stack };
}

/**
 * Why the Docker backend cannot run here, or the engine's address when it answers and the image is built.
 * Under CI (CI=true) a missing engine or image is an error, not a reason to skip.
 */
export function dockerUnavailable(): { reason: string } | { host: string } {
  const script = path.join(root, "scripts/docker-engine.sh");
  let host = process.env.DOCKER_HOST;
  try {
    const out = execFileSync(script, ["status"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 20_000 });
    host = /DOCKER_HOST=(\S+)/.exec(out)?.[1] ?? host;
  } catch {
    return unavailable("no Docker engine reachable (start one with `scripts/docker-engine.sh start`)");
  }
  if (!host) return unavailable("no Docker engine reachable");
  try {
    execFileSync("docker", ["-H", host, "image", "inspect", "carnet-jupyter:latest"], { stdio: "ignore", timeout: 20_000 });
  } catch {
    return unavailable(`image carnet-jupyter:latest missing on ${host} (run \`scripts/docker-engine.sh build-image\`)`);
  }
  return { host };
}

/**
 * The stack's environment for a backend, for specs that run on both: `{ CARNET_SPAWNER: "local" }`, or for docker
 * `{ CARNET_SPAWNER: "docker", DOCKER_HOST }` when the engine and image are there. When they are not, says so
 * loudly, calls `skip(reason)` (Playwright's `test.skip(true, …)`, vitest's `ctx.skip`) and returns null; under
 * CI=true it throws instead (dockerUnavailable). `what` names the suite in the warning.
 */
export function dockerEnvOrSkip(backend: "local" | "docker", what: string, skip: (reason: string) => void): Record<string, string> | null {
  if (backend === "local") return { CARNET_SPAWNER: "local" };
  const d = dockerUnavailable();
  if ("reason" in d) {
    console.warn(`\n*** SKIPPED: ${what} with the docker backend: ${d.reason} ***\n`);
    skip(`docker backend: ${d.reason}`);
    return null;
  }
  return { CARNET_SPAWNER: "docker", DOCKER_HOST: d.host };
}

function unavailable(reason: string): { reason: string } {
  if (process.env.CI === "true") throw new Error(`CI: the docker backend must run here, but: ${reason}`);
  return { reason };
}

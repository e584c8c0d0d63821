import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import path from "node:path";
import { z } from "zod";
import { cageOomKills, cagePids, destroyCage, prepareCage, type Cage } from "./cgroup";
import { ProgressLog } from "./progress";
import { allProcesses, chownTree, cleanEnv, freePort, isAlive, procEnviron, procStat, processTree, signal, waitUntil } from "./proc";
import type { BackendOptions, ManagedServer, PollResult, ProgressEvent, SpawnSpec, Spawner } from "./types";
import { validateSpec } from "./validate";

/** Environment variable that marks a Carnet server process ("<instance>/<copy id>"); not a secret. */
export const SERVER_MARKER = "CARNET_SERVER";

const localState = z.object({
  backend: z.literal("local"),
  version: z.literal(1),
  id: z.string(),
  pid: z.number().int().positive(),
  startTime: z.number().int().nonnegative(),
  port: z.number().int().positive(),
  url: z.string(),
  runtimeDir: z.string(),
  cage: z.object({
    mode: z.enum(["cgroup2", "cgroup1", "rlimit", "none"]),
    dirs: z.array(z.string()),
    asBytes: z.number().optional(),
  }),
});
type LocalState = z.infer<typeof localState>;

/** Folder of the local backend's runtime folders: <stateDir>/local (root-owned, 0711). */
function localRoot(opts: BackendOptions): string {
  return path.join(opts.stateDir, "local");
}

function whichJupyter(opts: BackendOptions): { script: string; app: "ServerApp" | "NotebookApp" } {
  const script =
    opts.local?.jupyter ?? (existsSync("/usr/bin/jupyter-nbclassic") ? "/usr/bin/jupyter-nbclassic" : "/usr/bin/jupyter-notebook");
  // notebook 6 is not built on jupyter_server: same options under NotebookApp.
  return { script, app: path.basename(script) === "jupyter-notebook" ? "NotebookApp" : "ServerApp" };
}

/**
 * The local backend: Debian's Jupyter as a detached child process (its own session, stdio to a log file)
 * so it survives a restart of the portal. As root with spec.uid, it runs under that uid inside a memory
 * cgroup; see docs/spawner.md.
 */
export class LocalSpawner implements Spawner {
  private state: LocalState | null = null;
  private exitCode: number | null = null;
  private readonly log = new ProgressLog();

  constructor(
    private readonly spec: SpawnSpec,
    private readonly opts: BackendOptions,
  ) {
    validateSpec(spec);
  }

  /** {@inheritDoc Spawner.start} */
  async start(): Promise<{ url: string }> {
    this.log.reset();
    try {
      return await this.doStart();
    } finally {
      this.log.end();
    }
  }

  private async doStart(): Promise<{ url: string }> {
    const { spec, opts } = this;
    this.log.emit(5, "Préparation de votre espace…");
    if (this.state && isAlive(this.state.pid, this.state.startTime)) await this.stop();
    const isRoot = process.getuid?.() === 0;
    if (spec.uid !== undefined && !isRoot) throw new Error("spec.uid needs the portal to run as root");
    const uid = spec.uid;
    const gid = spec.gid ?? spec.uid;

    const root = localRoot(opts);
    await mkdir(root, { recursive: true, mode: 0o711 });
    const runtimeDir = path.join(root, spec.id);
    const home = path.join(runtimeDir, "home");
    const tokenFile = path.join(runtimeDir, "token");
    // The runtime dir stays root-owned (state file, log); only home/ and the token belong to the student.
    await rm(home, { recursive: true, force: true });
    await mkdir(home, { recursive: true, mode: 0o700 });
    await chmod(runtimeDir, 0o711);
    await writeFile(tokenFile, spec.token, { mode: 0o400 });
    await chmod(tokenFile, 0o400);
    if (uid !== undefined && gid !== undefined) {
      await chown(home, uid, gid);
      await chown(tokenFile, uid, gid);
      await chownTree(spec.workDir, uid, gid);
      await chmod(spec.workDir, 0o700);
    }

    const cage = await prepareCage(opts.local?.memoryLimit ?? "auto", `carnet-${opts.instanceId}`, spec.id, spec.memoryMb, spec.cpus);
    const port = await freePort();
    const { script, app } = whichJupyter(opts);
    const python = opts.local?.python ?? "/usr/bin/python3";
    const jupyterArgs = [
      script,
      "--no-browser",
      `--${app}.ip=127.0.0.1`,
      `--${app}.port=${port}`,
      `--${app}.port_retries=0`,
      `--${app}.base_url=${spec.baseUrl}`,
      app === "ServerApp" ? `--ServerApp.root_dir=${spec.workDir}` : `--NotebookApp.notebook_dir=${spec.workDir}`,
      // The proxy keeps the public Host header; Jupyter's DNS-rebinding check would block it. Jupyter is
      // bound to 127.0.0.1 and needs the token, so the check protects nothing here (docs/spawner.md).
      `--${app}.allow_remote_access=True`,
      `--${app}.terminals_enabled=False`,
      ...(isRoot && uid === undefined ? [`--${app}.allow_root=True`] : []),
    ];
    const env: Record<string, string> = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: home,
      JUPYTER_CONFIG_DIR: path.join(home, ".jupyter"),
      JUPYTER_DATA_DIR: path.join(home, ".local/share/jupyter"),
      JUPYTER_RUNTIME_DIR: path.join(home, ".local/share/jupyter/runtime"),
      IPYTHONDIR: path.join(home, ".ipython"),
      MPLCONFIGDIR: path.join(home, ".config/matplotlib"),
      MPLBACKEND: "Agg",
      PYTHONNOUSERSITE: "1",
      // The token is read from a file only its user can read: never argv (ps shows it), never env of others.
      JUPYTER_TOKEN_FILE: tokenFile,
      [SERVER_MARKER]: `${opts.instanceId}/${spec.id}`,
    };

    // Join the cgroups, drop to the student's uid, apply the rlimit, then exec Jupyter: all in the same
    // pid, before any Python runs, so nothing escapes the cage.
    const chain: string[] = [];
    if (uid !== undefined && gid !== undefined) chain.push("/usr/bin/setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--");
    if (cage.mode === "rlimit" && cage.asBytes) chain.push("/usr/bin/prlimit", `--as=${cage.asBytes}`, "--");
    chain.push(python, ...jupyterArgs);
    const procsFiles = cage.dirs.map((d) => path.join(d, "cgroup.procs"));
    const [cmd, args]: [string, string[]] = procsFiles.length
      ? ["/bin/sh", ["-c", 'for f in $CARNET_CGROUP_PROCS; do echo $$ > "$f" || exit 70; done; unset CARNET_CGROUP_PROCS; exec "$@"', "carnet-server", ...chain]]
      : [chain[0]!, chain.slice(1)];
    if (procsFiles.length) env.CARNET_CGROUP_PROCS = procsFiles.join(" ");

    this.log.emit(30, "Démarrage de Python…");
    const logFile = path.join(runtimeDir, "server.log");
    const fd = openSync(logFile, "w", 0o600);
    let pid: number;
    try {
      const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd], env: cleanEnv(env), cwd: spec.workDir });
      pid = await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("spawn", () => resolve(child.pid!));
      });
      child.once("exit", (code, sig) => {
        this.exitCode = code ?? (sig ? 128 + (constants.signals[sig as keyof typeof constants.signals] ?? 0) : null);
      });
      child.unref();
    } catch (err) {
      await destroyCage(cage);
      throw err;
    } finally {
      closeSync(fd);
    }
    const st = procStat(pid);
    this.exitCode = null;
    this.state = {
      backend: "local",
      version: 1,
      id: spec.id,
      pid,
      startTime: st?.startTime ?? 0,
      port,
      url: `http://127.0.0.1:${port}`,
      runtimeDir,
      cage,
    };
    try {
      await writeFile(path.join(runtimeDir, "state.json"), JSON.stringify(this.state), { mode: 0o600 });
    } catch (err) {
      await this.stop(1_000);
      throw err;
    }
    opts.logger?.info({ copy: spec.id, pid, port, memoryLimit: cage.mode }, "local Jupyter server started");
    this.log.emit(60, "Démarrage de Jupyter…");
    return { url: this.state.url };
  }

  /** {@inheritDoc Spawner.stop} */
  async stop(timeoutMs = 10_000): Promise<void> {
    const state = this.state;
    if (!state) return;
    const { pid, startTime, cage } = state;
    if (isAlive(pid, startTime)) {
      // Kernels run in their own sessions: remember the whole tree now, before the server dies and they
      // are re-parented, so the forced step can find them without a cgroup.
      const tree = processTree(pid)
        .map((p) => ({ pid: p, startTime: procStat(p)?.startTime }))
        .filter((p) => p.pid !== pid);
      // SIGTERM is jupyter_server's graceful stop (it shuts its kernels down); SIGINT would ask on a tty.
      signal(pid, "SIGTERM");
      if (!(await waitUntil(() => !isAlive(pid, startTime), timeoutMs))) {
        this.opts.logger?.warn({ copy: this.spec.id, pid }, "Jupyter ignored SIGTERM, killing it");
        signal(pid, "SIGKILL");
        await waitUntil(() => !isAlive(pid, startTime), 5_000);
      }
      for (const p of tree) if (p.startTime !== undefined && isAlive(p.pid, p.startTime)) signal(p.pid, "SIGKILL");
    }
    await destroyCage(cage);
    await rm(path.join(state.runtimeDir, "state.json"), { force: true });
    await rm(path.join(state.runtimeDir, "token"), { force: true });
    await rm(path.join(state.runtimeDir, "home"), { recursive: true, force: true });
    if (isAlive(pid, startTime)) throw new Error(`server pid ${pid} is still alive after SIGKILL`);
  }

  /** {@inheritDoc Spawner.poll} */
  async poll(): Promise<PollResult> {
    const s = this.state;
    if (s && isAlive(s.pid, s.startTime)) return { running: true };
    const oom = s ? cageOomKills(s.cage) > 0 : false;
    return { running: false, exitCode: this.exitCode, ...(oom ? { oomKilled: true } : {}) };
  }

  /** {@inheritDoc Spawner.progress} */
  progress(): AsyncIterable<ProgressEvent> {
    return { [Symbol.asyncIterator]: () => this.log.iterate() };
  }

  /** {@inheritDoc Spawner.getState} */
  getState(): Record<string, unknown> {
    return this.state ? { ...this.state } : {};
  }

  /** {@inheritDoc Spawner.loadState} */
  loadState(state: Record<string, unknown>): void {
    if (Object.keys(state).length === 0) {
      this.state = null;
      return;
    }
    const s = localState.parse(state);
    if (s.id !== this.spec.id) throw new Error(`state is for copy ${s.id}, not ${this.spec.id}`);
    this.state = s;
    this.exitCode = null;
  }

  /** pids of the server and everything in its cage (for measurements). */
  async pids(): Promise<number[]> {
    const s = this.state;
    if (!s) return [];
    const fromCage = await cagePids(s.cage);
    return fromCage.length ? fromCage : processTree(s.pid);
  }
}

/**
 * Local servers of this instance: every state file under <stateDir>/local (adoptable, with a port),
 * plus marked processes found in /proc that no state file explains (orphans to stop; their state has
 * port 0 and cannot be adopted for routing).
 */
export async function listLocal(opts: BackendOptions): Promise<ManagedServer[]> {
  const root = localRoot(opts);
  const out: ManagedServer[] = [];
  const known = new Set<number>();
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    names = [];
  }
  for (const name of names) {
    let parsed: LocalState;
    try {
      parsed = localState.parse(JSON.parse(await readFile(path.join(root, name, "state.json"), "utf8")));
    } catch {
      continue;
    }
    known.add(parsed.pid);
    out.push({ id: parsed.id, backend: "local", running: isAlive(parsed.pid, parsed.startTime), state: parsed });
  }
  const marker = `${opts.instanceId}/`;
  const procs = allProcesses();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  for (const p of procs) {
    if (known.has(p.pid)) continue;
    const env = procEnviron(p.pid);
    const value = env?.get(SERVER_MARKER);
    if (!value?.startsWith(marker)) continue;
    // Kernels inherit the marker: only report the top of each tree (its parent is not marked).
    const parent = byPid.get(p.ppid);
    if (parent && procEnviron(parent.pid)?.get(SERVER_MARKER) === value) continue;
    if (!readFileSync(`/proc/${p.pid}/cmdline`, "utf8").includes("jupyter")) continue;
    const id = value.slice(marker.length);
    out.push({
      id,
      backend: "local",
      running: true,
      state: {
        backend: "local",
        version: 1,
        id,
        pid: p.pid,
        startTime: p.startTime,
        port: 0,
        url: "",
        runtimeDir: path.join(root, id),
        cage: { mode: "none", dirs: [] },
      } satisfies LocalState,
    });
  }
  return out;
}

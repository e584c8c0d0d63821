import { spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readdirSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { constants } from "node:os";
import path from "node:path";
import { z } from "zod";
import { cageOomKills, cagePids, cgroupDirsOf, destroyCage, prepareCage } from "./cgroup";
import { attachVeth, DEFAULT_LOCAL_SUBNET, ensureEgressRules, resolvConf } from "./egress";
import { ensureJupyterConfig } from "./jupyter-config";
import { ProgressLog } from "./progress";
import { allProcesses, chownTree, cleanEnv, isAlive, killUid, procEnviron, procStat, processTree, procUid, signal, waitUntil } from "./proc";
import { dropTo, SANDBOX_HOME, sandboxCommand, waitForOwnNetns } from "./sandbox";
import { prepareSocketDir, sealSocket } from "./socket";
import type { BackendOptions, ManagedServer, PollResult, ProgressEvent, SpawnSpec, Spawner } from "./types";
import { limitsOf, validateSpec } from "./validate";

/** Environment variable that marks a Carnet server process ("<instance>/<copy id>"); not a secret. */
export const SERVER_MARKER = "CARNET_SERVER";

/**
 * start() refused to run a student's server as the portal's own user (no uid, and local.allowSameUser not set).
 * `code` is "same_user_refused" so the portal can tell it from other failures.
 */
export class SameUserRefused extends Error {
  readonly code = "same_user_refused";
}

const localState = z.object({
  backend: z.literal("local"),
  version: z.literal(1),
  id: z.string(),
  pid: z.number().int().positive(),
  startTime: z.number().int().nonnegative(),
  /** 0 when the server listens on a Unix socket (every server since the sandbox). */
  port: z.number().int().nonnegative(),
  url: z.string(),
  runtimeDir: z.string(),
  cage: z.object({
    mode: z.enum(["cgroup2", "cgroup1", "rlimit", "none"]),
    dirs: z.array(z.string()),
    asBytes: z.number().optional(),
    pids: z.enum(["cgroup", "rlimit", "none"]).optional(),
    nproc: z.number().optional(),
  }),
  /** The student's uid (absent: the portal's own user, or a state from before the sandbox). */
  uid: z.number().int().positive().optional(),
  /** Namespaces (root + uid) or none (local.allowSameUser). */
  sandbox: z.enum(["namespaces", "none"]).optional(),
  /** Host end of the veth of a server with Internet access. */
  egress: z.object({ iface: z.string(), address: z.string() }).optional(),
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
 * so it survives a restart of the portal. As root with spec.uid (required), it runs under that uid in a
 * sandbox (sandbox.ts: own mount, network and IPC namespaces, private /tmp and /dev/shm, cgroups for memory,
 * CPU and processes), listening on a Unix socket; see docs/spawner.md.
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

  /** {@inheritDoc Spawner.start} Throws {@link SameUserRefused} for a spec without uid unless local.allowSameUser. */
  async start(): Promise<{ url: string }> {
    this.log.reset();
    try {
      return await this.doStart();
    } finally {
      this.log.end();
    }
  }

  /** Who runs the server: the spec's uid in a sandbox (root), or the portal's own user when the site allows it. */
  private identity(): { uid: number; gid: number; sandbox: true } | { sandbox: false } {
    const { spec, opts } = this;
    const isRoot = process.getuid?.() === 0;
    if (spec.uid !== undefined) {
      if (!isRoot) throw new Error("spec.uid needs the portal to run as root");
      return { uid: spec.uid, gid: spec.gid ?? spec.uid, sandbox: true };
    }
    if (isRoot) throw new Error("local backend: spec.uid is required when the portal runs as root (Jupyter never runs as root)");
    if (!opts.local?.allowSameUser)
      throw new SameUserRefused(
        `local backend: refusing to run a student's server as the portal's own user (uid ${process.getuid?.()}): ` +
          "their code would have the portal's rights (its secrets, its database, every copy). Run the portal as root " +
          "(each copy then has its own uid), or set local.allowSameUser for a single trusted user (docs/spawner.md).",
      );
    return { sandbox: false };
  }

  private async doStart(): Promise<{ url: string }> {
    const { spec, opts } = this;
    this.log.emit(5, "Préparation de votre espace…");
    const who = this.identity();
    if (this.state && isAlive(this.state.pid, this.state.startTime)) await this.stop();
    const uid = who.sandbox ? who.uid : undefined;
    const gid = who.sandbox ? who.gid : undefined;
    const limits = limitsOf(spec);

    const root = localRoot(opts);
    await mkdir(root, { recursive: true, mode: 0o711 });
    const runtimeDir = path.join(root, spec.id);
    const tokenFile = path.join(runtimeDir, "token");
    const stage = path.join(runtimeDir, "ns");
    // The runtime dir stays root-owned (state file, log, socket folder once sealed); only the token (and, without
    // a sandbox, home/) belong to the student.
    await mkdir(runtimeDir, { recursive: true, mode: 0o711 });
    await chmod(runtimeDir, 0o711);
    await rm(path.join(runtimeDir, "home"), { recursive: true, force: true });
    const home = who.sandbox ? SANDBOX_HOME : path.join(runtimeDir, "home");
    if (!who.sandbox) await mkdir(home, { mode: 0o700 });
    await rm(tokenFile, { force: true });
    await writeFile(tokenFile, spec.token, { mode: 0o400 });
    await chmod(tokenFile, 0o400);
    const sock = await prepareSocketDir(path.join(runtimeDir, "sock"), "jupyter.sock", uid, gid);
    if (uid !== undefined && gid !== undefined) {
      await chown(tokenFile, uid, gid);
      await chownTree(spec.workDir, uid, gid);
      await chmod(spec.workDir, 0o700);
      await mkdir(stage, { recursive: true, mode: 0o700 });
      await chmod(stage, 0o700);
    }
    const jupyterDirs = await ensureJupyterConfig(opts.stateDir);

    const cage = await prepareCage(opts.local?.memoryLimit ?? "auto", `carnet-${opts.instanceId}`, spec.id, spec.memoryMb, spec.cpus, limits.pidsLimit);
    const { script, app } = whichJupyter(opts);
    const python = opts.local?.python ?? "/usr/bin/python3";
    const jupyterArgs = [
      script,
      "--no-browser",
      // A Unix socket only root and this uid can open: no TCP port to squat, none reachable from other servers.
      `--${app}.sock=${sock}`,
      `--${app}.sock_mode=0600`,
      `--${app}.base_url=${spec.baseUrl}`,
      app === "ServerApp" ? `--ServerApp.root_dir=${spec.workDir}` : `--NotebookApp.notebook_dir=${spec.workDir}`,
    ];
    const threads = String(Math.max(1, Math.ceil(spec.cpus)));
    const env: Record<string, string> = {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      HOME: home,
      // Carnet's configuration, root-owned and read-only (jupyter-config.ts): ~/.jupyter is never read, so a
      // student's custom.js or config changes nothing. PYTHONNOUSERSITE drops ~/.local from both paths too.
      JUPYTER_CONFIG_DIR: jupyterDirs.configDir,
      JUPYTER_DATA_DIR: jupyterDirs.dataDir,
      JUPYTER_RUNTIME_DIR: path.join(home, ".local/share/jupyter/runtime"),
      IPYTHONDIR: path.join(home, ".ipython"),
      MPLCONFIGDIR: path.join(home, ".config/matplotlib"),
      PYTHONNOUSERSITE: "1",
      // Carnet's sitecustomize.py for the server alone (it removes this variable at once: kernels never see it), run
      // before Jupyter imports anything: jupyter-image/data/carnet-server/ and docs/operations.md, "Weight".
      PYTHONPATH: path.join(jupyterDirs.dataDir, "carnet-server"),
      // The server imports distutils without setuptools and pkg_resources (about 90 ms of each start's CPU); Carnet's
      // Jupyter config removes it again before any kernel starts (jupyter-image/config/jupyter_server_config.py).
      SETUPTOOLS_USE_DISTUTILS: "stdlib",
      // As many compute threads as the CPU quota allows (OpenBLAS would start one per core, against pids.max).
      OMP_NUM_THREADS: threads,
      OPENBLAS_NUM_THREADS: threads,
      MKL_NUM_THREADS: threads,
      // The token is read from a file only its user can read: never argv (ps shows it), never env of others.
      JUPYTER_TOKEN_FILE: tokenFile,
      [SERVER_MARKER]: `${opts.instanceId}/${spec.id}`,
    };

    const rlimits: string[] = [`--fsize=${limits.maxFileMb * 1024 * 1024}`];
    if (cage.mode === "rlimit" && cage.asBytes) rlimits.push(`--as=${cage.asBytes}`);
    // RLIMIT_NPROC counts every process of the uid: only meaningful when the uid is this copy's alone.
    if (cage.pids === "rlimit" && cage.nproc && uid !== undefined) rlimits.push(`--nproc=${cage.nproc}`);
    const command = [...(uid !== undefined && gid !== undefined ? dropTo(uid, gid) : []), "/usr/bin/prlimit", ...rlimits, "--", python, ...jupyterArgs];

    const allowNetwork = who.sandbox && (spec.allowNetwork ?? false);
    const subnet = opts.local?.egressSubnet ?? DEFAULT_LOCAL_SUBNET;
    let cmd: string;
    let args: string[];
    if (who.sandbox) {
      let resolv: string | undefined;
      if (allowNetwork) {
        await ensureEgressRules({ subnets: [subnet], blocked: opts.local?.blockedNetworks, logger: opts.logger });
        resolv = path.join(runtimeDir, "resolv.conf");
        await writeFile(resolv, resolvConf(), { mode: 0o644 });
        await chmod(resolv, 0o644); // whatever the portal's umask: the student's resolver reads it
      }
      const sb = sandboxCommand({
        cgroupProcs: cage.dirs.map((d) => path.join(d, "cgroup.procs")),
        stage,
        keep: [spec.workDir, runtimeDir, path.dirname(jupyterDirs.configDir)],
        tmpMb: limits.tmpMb,
        shmMb: limits.shmMb,
        uid: who.uid,
        gid: who.gid,
        resolvConf: resolv,
        waitForGo: allowNetwork,
        command,
      });
      [cmd, args] = [sb.cmd, sb.args];
      Object.assign(env, sb.env);
    } else {
      [cmd, args] = [command[0]!, command.slice(1)];
    }

    this.log.emit(30, "Démarrage de Python…");
    const logFile = path.join(runtimeDir, "server.log");
    const fd = openSync(logFile, "w", 0o600);
    let pid: number;
    let egress: LocalState["egress"];
    try {
      const child = spawn(cmd, args, { detached: true, stdio: [allowNetwork ? "pipe" : "ignore", fd, fd], env: cleanEnv(env), cwd: spec.workDir });
      pid = await new Promise<number>((resolve, reject) => {
        child.once("error", reject);
        child.once("spawn", () => resolve(child.pid!));
      });
      child.once("exit", (code, sig) => {
        this.exitCode = code ?? (sig ? 128 + (constants.signals[sig as keyof typeof constants.signals] ?? 0) : null);
      });
      child.unref();
      if (allowNetwork) {
        try {
          if (!(await waitForOwnNetns(pid)) || !isAlive(pid)) throw new Error("the server died before its network namespace was ready");
          egress = await attachVeth(pid, subnet, `${opts.instanceId}/${spec.id}`);
          child.stdin!.end("go\n");
        } catch (err) {
          signal(pid, "SIGKILL");
          throw err;
        }
      }
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
      port: 0,
      url: `unix:${sock}`,
      runtimeDir,
      cage,
      ...(uid !== undefined ? { uid } : {}),
      sandbox: who.sandbox ? "namespaces" : "none",
      ...(egress ? { egress } : {}),
    };
    try {
      await writeFile(path.join(runtimeDir, "state.json"), JSON.stringify(this.state), { mode: 0o600 });
      this.log.emit(60, "Démarrage de Jupyter…");
      const s = this.state;
      await sealSocket(sock, uid, () => isAlive(s.pid, s.startTime));
    } catch (err) {
      await this.stop(1_000).catch(() => undefined);
      throw err;
    }
    opts.logger?.info({ copy: spec.id, pid, memoryLimit: cage.mode, pids: cage.pids, network: egress ? egress.iface : "none" }, "local Jupyter server started");
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
    // Without a cgroup, a double fork escapes the tree; the uid is this copy's alone, so sweep it. This also
    // ends the namespaces (and the private /tmp with them): they live as long as one of their processes.
    if (state.uid !== undefined && !cage.dirs.length && process.getuid?.() === 0) await killUid(state.uid);
    for (const f of ["state.json", "token", "resolv.conf"]) await rm(path.join(state.runtimeDir, f), { force: true });
    for (const d of ["home", "sock"]) await rm(path.join(state.runtimeDir, d), { recursive: true, force: true });
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
    const uid = procUid(p.pid);
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
        // Its cgroups and uid, so that stopping it also empties them (its tree may have escaped by double forks).
        cage: { mode: "none", dirs: cgroupDirsOf(p.pid, `carnet-${opts.instanceId}`) },
        ...(uid !== null && uid !== 0 && uid !== process.getuid?.() ? { uid } : {}),
      } satisfies LocalState,
    });
  }
  return out;
}

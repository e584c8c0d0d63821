import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import Docker from "dockerode";
import { z } from "zod";
import { DEFAULT_DOCKER_SUBNET, ensureEgressRules, IFACE_PREFIX } from "./egress";
import { ProgressLog } from "./progress";
import { chownTree, isAlive, processTree, signal, waitUntil } from "./proc";
import { prepareSocketDir, sealSocket } from "./socket";
import type { BackendOptions, DockerNetwork, ManagedServer, PollResult, ProgressEvent, SpawnSpec, Spawner } from "./types";
import { limitsOf, validateSpec } from "./validate";

/** Where the student's folder is mounted in the container (see jupyter-image/README.md). */
export const CONTAINER_WORKDIR = "/home/jovyan/work";
/** Where the per-server runtime folder (token file, unix socket) is mounted in the container. */
export const CONTAINER_RUNDIR = "/carnet-run";
const DEFAULT_IMAGE = "carnet-jupyter:latest";
/** The bridge network of servers with Internet access ("auto" network), and its host interface. */
export const EGRESS_NETWORK = "carnet-internet";
const EGRESS_BRIDGE_IFACE = `${IFACE_PREFIX}-inet`;

const dockerState = z.object({
  backend: z.literal("docker"),
  version: z.literal(1),
  id: z.string(),
  containerId: z.string(),
  name: z.string(),
  url: z.string(),
  /** "socket": no network at all (the default). Jupyter listens on a Unix socket in every mode. */
  network: z.enum(["host", "socket", "bridge"]),
  /** 0: Unix socket (every server since the sandbox); a port only in states of older versions. */
  port: z.number().int().nonnegative(),
  runtimeDir: z.string(),
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  /** socat TCP forwarder of servers started by older versions (stopped with them); null since. */
  forwarder: z.object({ pid: z.number().int().positive(), startTime: z.number().int().nonnegative() }).nullable(),
});
type DockerState = z.infer<typeof dockerState>;

/** A dockerode client for `host` ("unix:///…", "tcp://h:p", or a socket path); default /var/run/docker.sock. */
export function dockerClient(host?: string): Docker {
  if (!host) return new Docker({ socketPath: "/var/run/docker.sock", timeout: 120_000 });
  if (host.startsWith("unix://")) return new Docker({ socketPath: host.slice("unix://".length), timeout: 120_000 });
  if (host.startsWith("/")) return new Docker({ socketPath: host, timeout: 120_000 });
  const u = new URL(host.replace(/^tcp:/, "http:"));
  return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: "http", timeout: 120_000 });
}

function statusOf(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "statusCode" in err ? Number((err as { statusCode: unknown }).statusCode) : undefined;
}

/** Runs a docker call where "not found" (and "already stopped") means the job is already done. */
async function ignoreGone(p: Promise<unknown>, alsoOk: number[] = []): Promise<void> {
  try {
    await p;
  } catch (err) {
    const code = statusOf(err);
    if (code === 404 || alsoOk.includes(code ?? -1)) return;
    throw err;
  }
}

function dockerRoot(opts: BackendOptions): string {
  return path.join(opts.stateDir, "docker");
}

/** The container name of a copy: "carnet-<instance>-<id>". */
export function containerName(instanceId: string, id: string): string {
  return `carnet-${instanceId}-${id}`;
}

function resolveNetwork(opts: BackendOptions, allowNetwork: boolean): { mode: "host" | "socket" | "bridge"; bridge?: string; egress?: boolean } {
  const n: DockerNetwork = opts.docker?.network ?? "auto";
  if (n === "auto") return allowNetwork ? { mode: "bridge", bridge: opts.docker?.egressNetwork ?? EGRESS_NETWORK, egress: true } : { mode: "socket" };
  if (n === "host" || n === "socket") return { mode: n };
  return { mode: "bridge", bridge: allowNetwork ? (n.allowNetworkBridge ?? n.bridge) : n.bridge };
}

/** Whether the engine runs on this host (a Unix socket), so that its bridges are this host's interfaces. */
function engineIsLocal(host: string | undefined): boolean {
  return !host || host.startsWith("unix://") || host.startsWith("/");
}

/**
 * The docker backend: one container per copy from jupyter-image/, with memory, CPU and pids limits,
 * the student's folder bind-mounted, no environment from the portal. Networking: see DockerNetwork.
 */
export class DockerSpawner implements Spawner {
  private state: DockerState | null = null;
  private readonly log = new ProgressLog();
  private readonly docker: Docker;

  constructor(
    private readonly spec: SpawnSpec,
    private readonly opts: BackendOptions,
  ) {
    validateSpec(spec);
    this.docker = dockerClient(opts.docker?.host);
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
    const name = containerName(opts.instanceId, spec.id);
    // Replace whatever is left of an earlier start (ours or a crashed portal's).
    if (this.state) await this.stop(5_000);
    await ignoreGone(this.docker.getContainer(name).remove({ force: true }), [409]);

    // Run as the owner of the folder (or the given uid), never as root: Jupyter refuses root and the
    // student must be able to write. A root-owned folder is handed to uid 1000 (jovyan).
    const owner = await stat(spec.workDir);
    if (!owner.isDirectory()) throw new Error(`workDir ${spec.workDir} is not a directory`);
    const uid = spec.uid ?? (owner.uid !== 0 ? owner.uid : 1000);
    const gid = spec.gid ?? (spec.uid !== undefined ? spec.uid : owner.uid !== 0 ? owner.gid : 1000);
    if (process.getuid?.() === 0) {
      await chownTree(spec.workDir, uid, gid);
      await chmod(spec.workDir, 0o700);
    }

    const isRoot = process.getuid?.() === 0;
    const runtimeDir = path.join(dockerRoot(opts), spec.id);
    const runDir = path.join(runtimeDir, "run");
    await mkdir(dockerRoot(opts), { recursive: true, mode: 0o711 });
    await mkdir(runtimeDir, { recursive: true, mode: 0o711 });
    await chmod(runtimeDir, 0o711);
    // The run folder is the student's until Jupyter created its socket there, then root's (socket.ts).
    const sock = await prepareSocketDir(runDir, "jupyter.sock", isRoot ? uid : undefined, isRoot ? gid : undefined);
    const tokenFile = path.join(runDir, "token");
    await writeFile(tokenFile, spec.token, { mode: 0o400 });
    if (isRoot) await chown(tokenFile, uid, gid);

    const net = resolveNetwork(opts, spec.allowNetwork ?? false);
    if (net.egress) await this.ensureEgressNetwork(net.bridge!);
    const limits = limitsOf(spec);
    const threads = Math.max(1, Math.ceil(spec.cpus));
    const env = [
      `CARNET_BASE_URL=${spec.baseUrl}`,
      `JUPYTER_TOKEN_FILE=${CONTAINER_RUNDIR}/token`,
      `CARNET_SOCK=${CONTAINER_RUNDIR}/jupyter.sock`,
      // distutils without setuptools and pkg_resources in the server (about 90 ms per start); kernels do not get it.
      "SETUPTOOLS_USE_DISTUTILS=stdlib",
      // As many compute threads as the CPU quota allows (OpenBLAS would start one per core, against PidsLimit).
      `OMP_NUM_THREADS=${threads}`,
      `OPENBLAS_NUM_THREADS=${threads}`,
      `MKL_NUM_THREADS=${threads}`,
    ];
    const bytes = Math.round(spec.memoryMb * 1024 * 1024);
    const fsize = limits.maxFileMb * 1024 * 1024;

    this.log.emit(20, "Création de votre serveur…");
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer({
        name,
        Image: opts.docker?.image ?? DEFAULT_IMAGE,
        Labels: { "carnet.instance": opts.instanceId, "carnet.copy": spec.id, "carnet.network": net.mode },
        Env: env,
        User: `${uid}:${gid}`,
        WorkingDir: CONTAINER_WORKDIR,
        HostConfig: {
          Mounts: [
            { Type: "bind", Source: spec.workDir, Target: CONTAINER_WORKDIR, ReadOnly: false },
            { Type: "bind", Source: runDir, Target: CONTAINER_RUNDIR, ReadOnly: false },
            ...(spec.readOnlyMounts ?? []).map((m) => ({ Type: "bind" as const, Source: m.hostPath, Target: m.containerPath, ReadOnly: true })),
          ],
          Memory: bytes,
          MemorySwap: bytes,
          NanoCpus: Math.round(spec.cpus * 1e9),
          PidsLimit: spec.pidsLimit ?? opts.docker?.pidsLimit ?? limits.pidsLimit,
          Ulimits: [{ Name: "fsize", Soft: fsize, Hard: fsize }],
          NetworkMode: net.mode === "socket" ? "none" : net.mode === "host" ? "host" : net.bridge,
          ReadonlyRootfs: true,
          Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${limits.tmpMb}m,mode=1777` },
          ShmSize: limits.shmMb * 1024 * 1024,
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          RestartPolicy: { Name: "no" },
        },
      });
    } catch (err) {
      if (statusOf(err) === 404)
        throw new Error(`image ${opts.docker?.image ?? DEFAULT_IMAGE} not found: run scripts/docker-engine.sh build-image`);
      throw err;
    }

    try {
      this.log.emit(50, "Démarrage du conteneur…");
      await container.start();
      const url = `unix:${sock}`;
      this.state = {
        backend: "docker",
        version: 1,
        id: spec.id,
        containerId: container.id,
        name,
        url,
        network: net.mode,
        port: 0,
        runtimeDir,
        uid,
        gid,
        forwarder: null,
      };
      await writeFile(path.join(runtimeDir, "state.json"), JSON.stringify(this.state), { mode: 0o600 });
      this.log.emit(70, "Démarrage de Python…");
      const s = this.state;
      await sealSocket(sock, isRoot ? uid : undefined, async () => (await this.inspect(s))?.State.Running ?? false);
      opts.logger?.info({ copy: spec.id, container: container.id.slice(0, 12), network: net.mode }, "Jupyter container started");
      return { url };
    } catch (err) {
      this.state ??= {
        backend: "docker",
        version: 1,
        id: spec.id,
        containerId: container.id,
        name,
        url: "",
        network: net.mode,
        port: 0,
        runtimeDir,
        uid,
        gid,
        forwarder: null,
      };
      await this.stop(1_000).catch(() => undefined);
      throw err;
    }
  }

  /**
   * The bridge network of servers with Internet access: created when missing (no inter-container traffic,
   * host interface carnet-inet), and when the engine is on this host and we are root, the host rules of egress.ts
   * (the containers reach the Internet, never an address of the host). Idempotent.
   */
  private async ensureEgressNetwork(name: string): Promise<void> {
    const subnet = this.opts.docker?.egressSubnet ?? DEFAULT_DOCKER_SUBNET;
    let info: Docker.NetworkInspectInfo;
    try {
      info = await this.docker.getNetwork(name).inspect();
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      await ignoreGone(
        this.docker.createNetwork({
          Name: name,
          Driver: "bridge",
          Internal: false,
          CheckDuplicate: true,
          IPAM: { Config: [{ Subnet: subnet }] },
          Options: { "com.docker.network.bridge.name": EGRESS_BRIDGE_IFACE, "com.docker.network.bridge.enable_icc": "false" },
          Labels: { "carnet.network": "egress" },
        }),
        [409], // created by a concurrent start
      );
      info = await this.docker.getNetwork(name).inspect();
    }
    if (engineIsLocal(this.opts.docker?.host) && process.getuid?.() === 0) {
      const subnets = (info.IPAM?.Config ?? []).map((c) => c.Subnet).filter((x): x is string => !!x && x.includes("."));
      await ensureEgressRules({ subnets, logger: this.opts.logger });
    }
  }

  private async stopForwarder(s: DockerState): Promise<void> {
    const f = s.forwarder;
    if (!f || !isAlive(f.pid, f.startTime)) return;
    const tree = processTree(f.pid);
    for (const p of tree) signal(p, "SIGTERM");
    if (!(await waitUntil(() => !isAlive(f.pid, f.startTime), 2_000))) for (const p of processTree(f.pid)) signal(p, "SIGKILL");
    await waitUntil(() => !isAlive(f.pid, f.startTime), 2_000);
  }

  /** {@inheritDoc Spawner.stop} */
  async stop(timeoutMs = 10_000): Promise<void> {
    const s = this.state;
    if (!s) return;
    const c = this.docker.getContainer(s.containerId);
    // docker stop sends SIGTERM to tini (which forwards it to Jupyter), then SIGKILL after t seconds.
    await ignoreGone(c.stop({ t: Math.max(1, Math.ceil(timeoutMs / 1000)) }), [304]);
    await ignoreGone(c.remove({ force: true, v: true }), [409]);
    await waitUntil(async () => (await this.inspect(s)) === null, 10_000, 100);
    await this.stopForwarder(s);
    await rm(path.join(s.runtimeDir, "run"), { recursive: true, force: true });
    await rm(path.join(s.runtimeDir, "state.json"), { force: true });
  }

  private async inspect(s: DockerState): Promise<Docker.ContainerInspectInfo | null> {
    try {
      return await this.docker.getContainer(s.containerId).inspect();
    } catch (err) {
      if (statusOf(err) === 404) return null;
      throw err;
    }
  }

  /** {@inheritDoc Spawner.poll} */
  async poll(): Promise<PollResult> {
    const s = this.state;
    if (!s) return { running: false, exitCode: null };
    const info = await this.inspect(s);
    if (!info) return { running: false, exitCode: null };
    if (info.State.Running) return { running: true };
    return { running: false, exitCode: info.State.ExitCode ?? null, ...(info.State.OOMKilled ? { oomKilled: true } : {}) };
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
    const s = dockerState.parse(state);
    if (s.id !== this.spec.id) throw new Error(`state is for copy ${s.id}, not ${this.spec.id}`);
    this.state = s;
  }

  /** The container id, for measurements and tests. */
  containerId(): string | null {
    return this.state?.containerId ?? null;
  }
}

/**
 * Containers of this instance (label carnet.instance=<instanceId>), running or not. The state comes from
 * the runtime folder when it matches the container (it has the port and forwarder), else from the labels.
 */
export async function listDocker(opts: BackendOptions): Promise<ManagedServer[]> {
  const docker = dockerClient(opts.docker?.host);
  const list = await docker.listContainers({ all: true, filters: { label: [`carnet.instance=${opts.instanceId}`] } });
  const out: ManagedServer[] = [];
  for (const c of list) {
    const id = c.Labels["carnet.copy"];
    if (!id) continue;
    const runtimeDir = path.join(dockerRoot(opts), id);
    let state: DockerState | null = null;
    try {
      const s = dockerState.parse(JSON.parse(await readFile(path.join(runtimeDir, "state.json"), "utf8")));
      if (s.containerId === c.Id) state = s;
    } catch {
      state = null;
    }
    const mode = c.Labels["carnet.network"];
    state ??= {
      backend: "docker",
      version: 1,
      id,
      containerId: c.Id,
      name: (c.Names[0] ?? "").replace(/^\//, ""),
      url: "",
      network: mode === "host" || mode === "bridge" ? mode : "socket",
      port: 0,
      runtimeDir,
      uid: 0,
      gid: 0,
      forwarder: null,
    };
    out.push({ id, backend: "docker", running: c.State === "running", state });
  }
  return out;
}

/**
 * Removes the bridge network of servers with Internet access (`carnet-internet`, interface carnet-inet) when no
 * container is attached to it, so that cleanupEgress() (spawner/egress.ts) can then remove the host rules. Returns
 * "removed", "absent", or "in use" (kept). Called by `./carnet start` when the site stops and by the tests'
 * teardowns. Idempotent.
 */
export async function removeEgressNetworkIfUnused(host?: string, name = EGRESS_NETWORK): Promise<"removed" | "absent" | "in use"> {
  const net = dockerClient(host).getNetwork(name);
  let info: Docker.NetworkInspectInfo;
  try {
    info = await net.inspect();
  } catch (err) {
    if (statusOf(err) === 404) return "absent";
    throw err;
  }
  if (Object.keys(info.Containers ?? {}).length) return "in use";
  try {
    await net.remove();
  } catch (err) {
    if (statusOf(err) === 404) return "absent";
    if (statusOf(err) === 403 || statusOf(err) === 409) return "in use"; // a container joined meanwhile
    throw err;
  }
  return "removed";
}

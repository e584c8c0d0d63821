/**
 * The Spawner contract: how the portal starts, finds, watches and stops one student's Jupyter server.
 * Backends ("local" child processes, "docker" containers) implement it; one conformance suite
 * (conformance.test.ts) checks both for real. Nothing here imports from app/, server/ or proxy/.
 */

/** What to start: one Jupyter server for one copy of a notebook. */
export interface SpawnSpec {
  /** The copy id; used in names and labels ("carnet-<instance>-<id>"). Letters, digits, "_" and "-" only. */
  id: string;
  /** Public path prefix, e.g. "/nb/<id>/"; Jupyter's base_url. Must start and end with "/". */
  baseUrl: string;
  /** Absolute host folder of the student's copy: Jupyter's root dir, read-write. Must exist. */
  workDir: string;
  /** Jupyter token the proxy adds to every request; never reaches a browser, never on a command line. */
  token: string;
  /** Memory cap for the server and all its kernels, in MiB, enforced by the OS. */
  memoryMb: number;
  /** CPU share (docker: NanoCpus; local: cgroup cpu quota when available). */
  cpus: number;
  /** Extra read-only folders (docker only; the local backend ignores them, see docs/spawner.md). */
  readOnlyMounts?: { hostPath: string; containerPath: string }[];
  /**
   * Outbound Internet for the kernels (default false: no network at all but the server's own loopback).
   * Even when true, the host's own addresses (127.0.0.1 services, the portal, other servers) stay unreachable.
   */
  allowNetwork?: boolean;
  /** Max processes and threads of the server and all its kernels (default 256). */
  pidsLimit?: number;
  /** Size of the private /tmp (local: also /var/tmp and /run/lock; HOME lives there too), MiB (default 128). */
  tmpMb?: number;
  /** Size of the private /dev/shm, MiB (default 64). */
  shmMb?: number;
  /** Largest file a kernel may write (RLIMIT_FSIZE), MiB (default 2048): a backstop under the copy's disk quota. */
  maxFileMb?: number;
  /**
   * Run as this uid/gid (local backend as root; docker: the container user). The workDir is chowned
   * to it and made 0700 so one student's code cannot read or write another's folder. The local backend
   * requires it (one uid per copy, the portal as root) unless `local.allowSameUser`; never 0.
   */
  uid?: number;
  gid?: number;
}

/** One step of a start, for the progress bar. Messages are French, shown to students. */
export type ProgressEvent = {
  /** 0 to 100. */
  progress: number;
  /** e.g. "Préparation de votre espace…", "Démarrage de Python…". */
  message: string;
};

/** The result of {@link Spawner.poll}. */
export type PollResult =
  | { running: true }
  | { running: false; exitCode: number | null; oomKilled?: boolean };

/** One student server, started by a backend. Create it with `createSpawner`. */
export interface Spawner {
  /**
   * Starts the server. Resolves once the process/container is started and its address is known:
   * `unix:/absolute/path/jupyter.sock` (a Unix socket only root and the student's uid can open; every helper
   * of http.ts and kernel-client.ts, and the proxy, accept it) or `http://host:port` (docker "host" network
   * and bridges); does NOT wait for HTTP readiness (use `waitForReady`).
   * Cleans up after itself if it throws. Starting a spec whose server is still running replaces it.
   */
  start(): Promise<{ url: string }>;
  /**
   * Stops the server: graceful first (SIGTERM / docker stop), then forced (SIGKILL / remove) after
   * `timeoutMs` (default 10 s). Resolves when everything is gone, kernels included.
   * Idempotent: stopping what is already gone (or was never started) succeeds.
   */
  stop(timeoutMs?: number): Promise<void>;
  /** Running, or gone with its exit code when known (null when the server was adopted) and OOM flag. */
  poll(): Promise<PollResult>;
  /**
   * The progress events of the current (or last) start: replays those already emitted, then follows
   * new ones, and ends when start() resolves or throws. Each call gets its own iterator.
   */
  progress(): AsyncIterable<ProgressEvent>;
  /** Opaque JSON the portal persists so a server survives a restart of the portal. {} when not started. */
  getState(): Record<string, unknown>;
  /** Restores what getState() returned, e.g. in a new Spawner after a restart. Throws on malformed state. */
  loadState(state: Record<string, unknown>): void;
}

/** The minimal logger the spawner uses; a pino logger fits. Never given tokens. */
export interface SpawnerLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** How the local backend caps memory; "auto" picks the first that works (see docs/spawner.md). */
export type MemoryLimitMode = "auto" | "cgroup2" | "cgroup1" | "rlimit" | "none";

/** Options of the local backend. */
export interface LocalOptions {
  /** Python that has Jupyter (default /usr/bin/python3, Debian's; the first python3 on PATH may not). */
  python?: string;
  /** Jupyter entry script: default /usr/bin/jupyter-nbclassic, else /usr/bin/jupyter-notebook (notebook 6). */
  jupyter?: string;
  /** Default "auto": cgroup v2, then cgroup v1 memory controller, then RLIMIT_AS via prlimit. */
  memoryLimit?: MemoryLimitMode;
  /**
   * Run students as the portal's own user when a spec has no uid (a portal that is not root). Off by default:
   * start() then refuses, because every student's code would run with the portal's rights (its secrets, its
   * database, every copy). Only for a single trusted user on a laptop.
   */
  allowSameUser?: boolean;
  /** IPv4 block for the veth pairs of servers with allowNetwork, one /30 each (default "10.231.0.0/17"). */
  egressSubnet?: string;
  /**
   * Destinations refused to servers with allowNetwork, besides every address of the host itself (default:
   * private, shared, link-local and multicast ranges: the site's LAN, cloud metadata). DNS to the host's
   * nameservers stays allowed.
   */
  blockedNetworks?: string[];
}

/**
 * Docker networking. Jupyter always listens on a Unix socket in a bind-mounted folder (the URL is
 * `unix:/…`), so the network only decides what the kernels can reach:
 * - "auto": "socket" unless spec.allowNetwork, then the bridge `egressNetwork` (created if missing).
 * - "socket": no network at all in the container (NetworkMode none), only its own loopback.
 * - "host": host network (the kernels reach the host's loopback services: never for students).
 * - { bridge }: that user-defined network; `allowNetworkBridge` is used when allowNetwork.
 */
export type DockerNetwork =
  | "auto"
  | "host"
  | "socket"
  | { bridge: string; allowNetworkBridge?: string };

/** Options of the docker backend. */
export interface DockerOptions {
  /** e.g. "unix:///var/lib/carnet-docker/docker.sock" or "tcp://127.0.0.1:2375"; default /var/run/docker.sock. */
  host?: string;
  /** Image built from jupyter-image/ (default "carnet-jupyter:latest"). */
  image?: string;
  /** Default "auto". */
  network?: DockerNetwork;
  /** Max processes in a container when the spec has no pidsLimit (default 256). */
  pidsLimit?: number;
  /** Path of socat on the host (only to stop the TCP forwarders of servers started by older versions). */
  socat?: string;
  /**
   * "auto" with allowNetwork: the user-defined bridge network used (default "carnet-internet", bridge
   * interface "carnet-inet", ICC off), created with `egressSubnet` (default "10.231.128.0/17").
   */
  egressNetwork?: string;
  egressSubnet?: string;
}

/** Options shared by every spawner of one Carnet instance. */
export interface BackendOptions {
  /** Identifies this Carnet instance: prefixes names and labels so two portals on a host never mix. */
  instanceId: string;
  /**
   * Absolute folder, private to the portal (root-owned, 0711), where backends keep per-server runtime
   * folders (Jupyter's HOME, token file, log, state file). Created if missing.
   */
  stateDir: string;
  logger?: SpawnerLogger;
  local?: LocalOptions;
  docker?: DockerOptions;
}

/** The backends `createSpawner` knows. */
export type BackendName = "local" | "docker";

/** A server that exists for this instance, found by `listManaged` (for adoption or orphan cleanup). */
export interface ManagedServer {
  /** The copy id (SpawnSpec.id). */
  id: string;
  backend: BackendName;
  /** Whether it is running right now. */
  running: boolean;
  /** State to give to `Spawner.loadState` (then poll/stop it), same shape as `getState()`. */
  state: Record<string, unknown>;
}

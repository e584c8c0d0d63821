import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { MemoryLimitMode } from "./types";
import { signal, waitUntil } from "./proc";

/** How one local server is confined: the cgroups it joins before exec, or rlimits. */
export interface Cage {
  /** How memory is capped. */
  mode: Exclude<MemoryLimitMode, "auto">;
  /** cgroup folders the server joins (v2: one; v1: memory, cpu and pids when available). */
  dirs: string[];
  /** RLIMIT_AS in bytes for mode "rlimit". */
  asBytes?: number;
  /**
   * How the number of processes is capped: a pids cgroup (`pids.max`, v2 or v1), or RLIMIT_NPROC = `nproc`
   * (per uid: each copy has its own), or not at all. Absent in states written before pids limits existed.
   */
  pids?: "cgroup" | "rlimit" | "none";
  nproc?: number;
}

const V2_ROOT = "/sys/fs/cgroup";
const V1_MEMORY = "/sys/fs/cgroup/memory";
const V1_CPU = "/sys/fs/cgroup/cpu";
const V1_PIDS = "/sys/fs/cgroup/pids";

function isCgroup2Root(): boolean {
  try {
    return readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .some((l) => l.split(" ")[1] === V2_ROOT && l.split(" ")[2] === "cgroup2");
  } catch {
    return false;
  }
}

async function writeIfExists(file: string, value: string): Promise<boolean> {
  if (!existsSync(file)) return false;
  try {
    await writeFile(file, value);
    return true;
  } catch {
    return false;
  }
}

async function cgroup2(group: string, id: string, bytes: number, cpus: number, pidsLimit: number): Promise<Cage> {
  const parent = path.join(V2_ROOT, group);
  await mkdir(parent, { recursive: true });
  // Controllers must be enabled top-down, one at a time (one refused must not stop the others); the root
  // cgroup may hold processes, our parent must not.
  for (const c of ["memory", "cpu", "pids"]) await writeIfExists(path.join(V2_ROOT, "cgroup.subtree_control"), `+${c}`);
  await writeFile(path.join(parent, "cgroup.subtree_control"), "+memory");
  await writeIfExists(path.join(parent, "cgroup.subtree_control"), "+cpu");
  await writeIfExists(path.join(parent, "cgroup.subtree_control"), "+pids");
  const dir = path.join(parent, id);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "memory.max"), String(bytes));
  await writeIfExists(path.join(dir, "memory.swap.max"), "0");
  await writeIfExists(path.join(dir, "cpu.max"), `${Math.round(cpus * 100_000)} 100000`);
  const pids = await writeIfExists(path.join(dir, "pids.max"), String(pidsLimit));
  return { mode: "cgroup2", dirs: [dir], ...(pids ? { pids: "cgroup" as const } : { pids: "rlimit" as const, nproc: pidsLimit }) };
}

/** A v1 pids cgroup for the server, or null when the controller is not mounted/writable. */
async function pidsCgroup1(group: string, id: string, pidsLimit: number): Promise<string | null> {
  if (!existsSync(path.join(V1_PIDS, "cgroup.procs"))) return null;
  const dir = path.join(V1_PIDS, group, id);
  try {
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "pids.max"), String(pidsLimit));
    return dir;
  } catch {
    await rmdir(dir).catch(() => undefined);
    return null;
  }
}

async function cgroup1(group: string, id: string, bytes: number, cpus: number): Promise<Cage> {
  const mem = path.join(V1_MEMORY, group, id);
  await mkdir(mem, { recursive: true });
  await writeFile(path.join(mem, "memory.limit_in_bytes"), String(bytes));
  // No swap either (memsw exists only with swap accounting): a capped kernel dies instead of swapping.
  await writeIfExists(path.join(mem, "memory.memsw.limit_in_bytes"), String(bytes));
  const dirs = [mem];
  try {
    const cpu = path.join(V1_CPU, group, id);
    await mkdir(cpu, { recursive: true });
    await writeFile(path.join(cpu, "cpu.cfs_period_us"), "100000");
    await writeFile(path.join(cpu, "cpu.cfs_quota_us"), String(Math.round(cpus * 100_000)));
    dirs.push(cpu);
  } catch {
    // CPU quota is a nicety; memory is the limit that matters.
  }
  return { mode: "cgroup1", dirs };
}

/**
 * Prepares the confinement of one server. Memory: "auto" tries cgroup v2, then the cgroup v1 memory
 * controller (both need root and a writable /sys/fs/cgroup), then RLIMIT_AS. Processes: the pids controller
 * of the same hierarchy (v2) or the v1 one, else RLIMIT_NPROC (the caller applies it per uid); mode "none"
 * caps nothing. Throws if an explicit memory mode is impossible.
 */
export async function prepareCage(
  mode: MemoryLimitMode,
  group: string,
  id: string,
  memoryMb: number,
  cpus: number,
  pidsLimit: number,
): Promise<Cage> {
  const bytes = Math.round(memoryMb * 1024 * 1024);
  const root = process.getuid?.() === 0;
  if (mode === "none") return { mode: "none", dirs: [], pids: "none" };
  let cage: Cage | null = null;
  if ((mode === "auto" || mode === "cgroup2") && root && isCgroup2Root()) {
    try {
      cage = await cgroup2(group, id, bytes, cpus, pidsLimit);
    } catch (err) {
      if (mode === "cgroup2") throw err;
    }
  }
  if (!cage && (mode === "auto" || mode === "cgroup1") && root && existsSync(path.join(V1_MEMORY, "memory.limit_in_bytes"))) {
    try {
      cage = await cgroup1(group, id, bytes, cpus);
    } catch (err) {
      if (mode === "cgroup1") throw err;
    }
  }
  if (!cage && mode !== "auto" && mode !== "rlimit") throw new Error(`memory limit mode ${mode} is not available here`);
  cage ??= { mode: "rlimit", dirs: [], asBytes: bytes };
  if (cage.pids === undefined) {
    // Memory in v1 (or by rlimit): the v1 pids controller if there is one (also on hybrid hosts).
    const dir = root ? await pidsCgroup1(group, id, pidsLimit) : null;
    if (dir) {
      cage.dirs.push(dir);
      cage.pids = "cgroup";
    } else {
      cage.pids = "rlimit";
      cage.nproc = pidsLimit;
    }
  }
  return cage;
}

/** pids currently in the cage's cgroups (the server, its kernels, anything they started). */
export async function cagePids(cage: Cage): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of cage.dirs) {
    try {
      for (const l of (await readFile(path.join(dir, "cgroup.procs"), "utf8")).split("\n")) if (l) pids.add(Number(l));
    } catch {
      // gone already
    }
  }
  return [...pids];
}

/** How many times the OOM killer killed something in the cage (0 when unknown). */
export function cageOomKills(cage: Cage): number {
  for (const dir of cage.dirs) {
    for (const file of ["memory.events", "memory.oom_control"]) {
      try {
        const m = /oom_kill (\d+)/.exec(readFileSync(path.join(dir, file), "utf8"));
        if (m) return Number(m[1]);
      } catch {
        // not this file / gone
      }
    }
  }
  return 0;
}

/** Kills whatever is left in the cage and removes its cgroups. Idempotent. */
export async function destroyCage(cage: Cage): Promise<void> {
  if (!cage.dirs.length) return;
  await waitUntil(async () => {
    const pids = await cagePids(cage);
    for (const pid of pids) signal(pid, "SIGKILL");
    return pids.length === 0;
  }, 5_000);
  for (const dir of cage.dirs) {
    try {
      await rmdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    // The instance's parent group goes when its last server does; others may still be in it.
    await rmdir(path.dirname(dir)).catch(() => undefined);
  }
}

/**
 * The cgroup folders of `pid` that belong to `group` (v1: one per controller we use; v2: the unified one), e.g.
 * to clean up after an orphan found in /proc. Empty when it is in none of ours.
 */
export function cgroupDirsOf(pid: number, group: string): string[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, "utf8");
  } catch {
    return [];
  }
  const dirs: string[] = [];
  for (const line of text.split("\n")) {
    const [hid, controllers, p] = line.split(":");
    if (!p?.startsWith(`/${group}/`)) continue;
    if (hid === "0" && controllers === "") {
      if (isCgroup2Root()) dirs.push(path.join(V2_ROOT, p));
      continue;
    }
    for (const c of (controllers ?? "").split(",")) if (["memory", "cpu", "pids"].includes(c)) dirs.push(path.join(V2_ROOT, c, p));
  }
  return dirs;
}

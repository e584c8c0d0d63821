/**
 * What a running student server uses, read from the OS: resident memory, and how many times the kernel's memory
 * limit made the OOM killer kill something in it (a kernel killed for memory: the server itself usually survives
 * and Jupyter restarts the kernel, so polling the server alone never notices it).
 * Works for both backends from the host: the local backend's state has the server's pid; a container's pid comes
 * from the engine. Both are in a memory cgroup of their own (cgroup v1 or v2) when the portal runs as root.
 */
import fs from "node:fs/promises";
import { dockerClient } from "@/spawner/docker";
import { backendOptions } from "./config";

export interface Usage {
  /** Resident memory of the server and its kernels, MiB; null when unknown. */
  memoryMb: number | null;
  /** OOM kills inside the server's memory cgroup since it started; 0 when unknown. */
  oomKills: number;
}

const NONE: Usage = { memoryMb: null, oomKills: 0 };

/** Host pid of the server process (local: its state; docker: the container's init), or null. */
async function hostPid(backend: string, state: unknown): Promise<number | null> {
  const s = (state ?? {}) as { pid?: unknown; containerId?: unknown };
  if (backend === "local") return typeof s.pid === "number" ? s.pid : null;
  if (backend === "docker" && typeof s.containerId === "string") {
    try {
      const info = await dockerClient(backendOptions().docker?.host).getContainer(s.containerId).inspect();
      return info.State.Running && info.State.Pid > 0 ? info.State.Pid : null;
    } catch {
      return null;
    }
  }
  return null;
}

/** The memory cgroup folder of a pid (v1 memory controller, or v2 unified), unless it is the root cgroup. */
async function memoryCgroup(pid: number): Promise<{ dir: string; v2: boolean } | null> {
  const lines = (await fs.readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => "")).split("\n");
  for (const l of lines) {
    const [, controllers, p] = l.split(":");
    if (p === undefined || p === "/") continue;
    if (controllers?.split(",").includes("memory")) return { dir: `/sys/fs/cgroup/memory${p}`, v2: false };
  }
  for (const l of lines) {
    const [id, controllers, p] = l.split(":");
    if (id === "0" && controllers === "" && p && p !== "/") return { dir: `/sys/fs/cgroup${p}`, v2: true };
  }
  return null;
}

async function rssOfTree(pid: number): Promise<number | null> {
  const parent = new Map<number, number>();
  for (const d of await fs.readdir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await fs.readFile(`/proc/${d}/stat`, "utf8").catch(() => "");
    if (!stat) continue;
    parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
  }
  if (!parent.has(pid)) return null;
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of parent) if (!tree.has(p) && tree.has(pp)) (tree.add(p), (grew = true));
  }
  let kb = 0;
  for (const p of tree) kb += Number(/VmRSS:\s+(\d+)/.exec(await fs.readFile(`/proc/${p}/status`, "utf8").catch(() => ""))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** Memory and OOM kills of a running server; never throws (unknown parts are null / 0). */
export async function serverUsage(backend: string, state: unknown): Promise<Usage> {
  const pid = await hostPid(backend, state);
  if (pid === null) return NONE;
  const cg = await memoryCgroup(pid);
  let oomKills = 0;
  let memoryMb: number | null = null;
  if (cg) {
    const events = await fs.readFile(`${cg.dir}/${cg.v2 ? "memory.events" : "memory.oom_control"}`, "utf8").catch(() => "");
    oomKills = Number(/oom_kill (\d+)/.exec(events)?.[1] ?? 0);
    // Resident (anonymous) memory of everything in the cgroup, page cache excluded, as `ps` would add it up.
    const stat = await fs.readFile(`${cg.dir}/memory.stat`, "utf8").catch(() => "");
    const bytes = Number((cg.v2 ? /^anon (\d+)/m : /^total_rss (\d+)/m).exec(stat)?.[1] ?? NaN);
    if (Number.isFinite(bytes)) memoryMb = Math.round(bytes / 1048576);
  }
  if (memoryMb === null) memoryMb = await rssOfTree(pid).catch(() => null);
  return { memoryMb, oomKills };
}

import { constants, readFileSync, readdirSync } from "node:fs";
import { lstat, lchown, chmod, open, readdir, type FileHandle } from "node:fs/promises";
import { createServer } from "node:net";
import path from "node:path";

/** Fields of /proc/<pid>/stat we use; null when the process does not exist. */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  /** Clock ticks since boot when the process started: with the pid, identifies a process across pid reuse. */
  startTime: number;
}

/** Reads /proc/<pid>/stat; null if there is no such process. */
export function procStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm (field 2) may contain spaces and parentheses: split after the last ")".
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const num = (i: number) => Number(rest[i] ?? NaN);
  return { pid, state: rest[0] ?? "?", ppid: num(1), pgrp: num(2), startTime: num(19) };
}

/** True if pid is alive (not a zombie) and, when given, started at startTime (guards against pid reuse). */
export function isAlive(pid: number, startTime?: number): boolean {
  const st = procStat(pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return startTime === undefined || st.startTime === startTime;
}

/** Every live pid on the machine with its parent, read from /proc. */
export function allProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.state !== "Z") out.push(st);
  }
  return out;
}

/** pid and all its descendants (kernels run in their own sessions, so process groups are not enough). */
export function processTree(pid: number): number[] {
  const procs = allProcesses();
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/** The environment of a process as a map; null if unreadable (gone, or not ours). */
export function procEnviron(pid: number): Map<string, string> | null {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, "utf8");
    const env = new Map<string, string>();
    for (const kv of raw.split("\0")) {
      const i = kv.indexOf("=");
      if (i > 0) env.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return env;
  } catch {
    return null;
  }
}

/** Sends a signal, ignoring "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/** Resolves when `check()` is true, polling every `everyMs`, or false after `timeoutMs`. */
export async function waitUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A TCP port free on 127.0.0.1 right now (the kernel picks it). Jupyter is started with port_retries=0. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * chown -R of a tree its student controls, done as root, that never acts outside it: folders are entered through
 * descriptors opened with O_NOFOLLOW and names are changed relative to them (lchown of /proc/self/fd/<dir>/<name>),
 * so a folder swapped for a symlink mid-walk is skipped, not followed (a path-based walk can be raced into
 * chowning /etc/shadow); a file with several names is left alone (a hard link to another user's file).
 */
export async function chownTree(root: string, uid: number, gid: number): Promise<void> {
  const st = await lstat(root);
  if (!st.isDirectory()) {
    if (!st.isSymbolicLink() && st.nlink === 1 && (st.uid !== uid || st.gid !== gid)) await lchown(root, uid, gid);
    return;
  }
  const walk = async (dir: FileHandle): Promise<void> => {
    const ds = await dir.stat();
    if (ds.uid !== uid || ds.gid !== gid) await dir.chown(uid, gid);
    for (const name of await readdir(`/proc/self/fd/${dir.fd}`)) {
      const p = `/proc/self/fd/${dir.fd}/${name}`;
      const s = await lstat(p).catch(() => null);
      if (!s || s.isSymbolicLink()) continue;
      if (s.isDirectory()) {
        const sub = await open(p, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW).catch(() => null);
        if (!sub) continue; // swapped for a link (ELOOP) or gone
        try {
          await walk(sub);
        } finally {
          await sub.close();
        }
      } else if (s.nlink === 1 && (s.uid !== uid || s.gid !== gid)) await lchown(p, uid, gid).catch(() => undefined);
    }
  };
  const top = await open(root, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    await walk(top);
  } finally {
    await top.close();
  }
}

/** chmod that accepts the file already having that mode. */
export async function ensureMode(p: string, mode: number): Promise<void> {
  const st = await lstat(p);
  if ((st.mode & 0o7777) !== mode) await chmod(p, mode);
}

/**
 * A child's whole environment, built from scratch (nothing inherited from the portal). The cast is only
 * because Next.js's types declare NODE_ENV as required in ProcessEnv.
 */
export function cleanEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  return vars as unknown as NodeJS.ProcessEnv;
}

/** Real uid of a process (from /proc/<pid>/status), or null when it is gone. */
export function procUid(pid: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * SIGKILLs every process whose real uid is `uid` until none is left (or `timeoutMs`): the last sweep of a stop
 * when there is no cgroup, valid because each copy has a uid of its own. Never for uid 0 or the portal's uid.
 * Resolves with whether none is left.
 */
export async function killUid(uid: number, timeoutMs = 5_000): Promise<boolean> {
  if (uid === 0 || uid === process.getuid?.()) throw new Error(`refusing to kill every process of uid ${uid}`);
  return waitUntil(() => {
    const left = allProcesses().filter((p) => procUid(p.pid) === uid);
    for (const p of left) signal(p.pid, "SIGKILL");
    return left.length === 0;
  }, timeoutMs);
}

/**
 * How Carnet writes into a student's copy (restore, reset, a teacher's update): never as root into a folder the
 * student controls. The writes run in a small child process under the uid that owns the copy folder (the student's
 * when their server has run; the portal's own otherwise), so a symlink planted anywhere in the copy reaches only
 * what the student could write anyway. Each file is written atomically: a temporary file in the same folder, fsync,
 * rename over the old one, fsync of the folder; a crash leaves the old file or the new one, never a truncated one.
 *
 * Before each rename the file must still be what the caller read (same SHA-256, size and time; or still absent):
 * otherwise the write is skipped ("conflict") and nothing of the student's is lost. The old file stays open across
 * the rename; if the student's Jupyter wrote into it in that instant (Jupyter saves in place), its new bytes are read
 * back from the open descriptor and put back, and the write reports a conflict ("raced").
 */
import { spawn, type SpawnOptionsWithoutStdio } from "node:child_process";
import fs from "node:fs/promises";

/** What a file must still be for the write to go ahead. */
export type Expect = { absent: true } | { hash: string; size: number } | { any: true };

export interface WriteOp {
  /** Posix path inside the copy, without "..". */
  path: string;
  bytes: Buffer;
  expect: Expect;
  /** Remove the file instead (only if it is still `expect`, which must then be a hash). */
  delete?: boolean;
  /** If this write cannot be done, stop: later ones are not attempted ("skipped"). */
  required?: boolean;
}

export interface WriteResult {
  path: string;
  status: "written" | "conflict" | "skipped" | "error";
  /** The student's Jupyter wrote the file during the rename: their bytes were put back. */
  raced?: boolean;
  /** For errors and conflicts, in English, for logs (never shown). */
  reason?: string;
}

/** Test hook: kill the writer just before or just after the rename of the file at this index. */
export interface CrashAt {
  op: number;
  when: "before-rename" | "after-rename";
}

// Plain JavaScript run by `node -e` as the copy's owner: no file of ours to find, no bundler in the way.
const CHILD = String.raw`
"use strict";
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const C = fs.constants;
let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", () => {
  const plan = JSON.parse(input);
  const out = [];
  let stop = false;
  plan.ops.forEach((op, i) => {
    if (stop) { out.push({ path: op.path, status: "skipped" }); return; }
    let r;
    try { r = one(plan, op, i); } catch (e) { r = { path: op.path, status: "error", reason: String(e && e.code || e && e.message || e) }; }
    out.push(r);
    if (r.status !== "written" && op.required) stop = true;
  });
  process.stdout.write(JSON.stringify(out));
});
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
function readFd(fd) {
  const parts = []; let pos = 0; const buf = Buffer.allocUnsafe(1 << 16);
  for (;;) { const n = fs.readSync(fd, buf, 0, buf.length, pos); if (n === 0) break; parts.push(Buffer.from(buf.subarray(0, n))); pos += n; }
  return Buffer.concat(parts);
}
function safeDir(root, rel) {
  const parts = rel.split("/");
  if (parts.some((p) => p === "" || p === "." || p === ".." || p.includes("\0"))) throw new Error("bad path");
  let dir = root;
  for (const p of parts.slice(0, -1)) {
    dir = path.join(dir, p);
    let st;
    try { st = fs.lstatSync(dir); } catch (e) { if (e.code !== "ENOENT") throw e; fs.mkdirSync(dir, { mode: 0o755 }); st = fs.lstatSync(dir); }
    if (!st.isDirectory()) throw new Error("not a folder (or a link) on the path");
  }
  return { dir, name: parts[parts.length - 1] };
}
function crash(plan, i, when) { if (plan.crashAt && plan.crashAt.op === i && plan.crashAt.when === when) process.kill(process.pid, "SIGKILL"); }
function writeTmp(dir, bytes, mode) {
  const tmp = path.join(dir, ".carnet-tmp-" + crypto.randomBytes(8).toString("hex"));
  const fd = fs.openSync(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, mode);
  try { let o = 0; while (o < bytes.length) o += fs.writeSync(fd, bytes, o, bytes.length - o); fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  return tmp;
}
function fsyncDir(dir) { const fd = fs.openSync(dir, C.O_RDONLY | C.O_DIRECTORY); try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); } }
function remove(plan, op) {
  const { dir, name } = safeDir(plan.root, op.path);
  const target = path.join(dir, name);
  let fd;
  try { fd = fs.openSync(target, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK); }
  catch (e) { return { path: op.path, status: e.code === "ENOENT" ? "written" : "conflict", reason: e.code }; }
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    if (!st.isFile() || Number(st.size) !== op.expect.size || sha(readFd(fd)) !== op.expect.hash) return { path: op.path, status: "conflict", reason: "changed" };
    // Moved aside first: if it changed in the meantime, it comes back.
    const aside = path.join(dir, ".carnet-tmp-" + crypto.randomBytes(8).toString("hex"));
    fs.renameSync(target, aside);
    const now = fs.fstatSync(fd, { bigint: true });
    const moved = fs.lstatSync(aside, { bigint: true });
    if (moved.ino !== st.ino || now.size !== st.size || now.mtimeNs !== st.mtimeNs) {
      try { fs.linkSync(aside, target); fs.unlinkSync(aside); } catch {}
      return { path: op.path, status: "conflict", reason: "changed" };
    }
    fs.unlinkSync(aside);
    fsyncDir(dir);
    return { path: op.path, status: "written" };
  } finally { fs.closeSync(fd); }
}
function one(plan, op, i) {
  if (op.delete) return remove(plan, op);
  const { dir, name } = safeDir(plan.root, op.path);
  const target = path.join(dir, name);
  const bytes = Buffer.from(op.data, "base64");
  let oldFd = null, before = null;
  try { oldFd = fs.openSync(target, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK); }
  catch (e) { if (e.code !== "ENOENT") return { path: op.path, status: "conflict", reason: "not a regular file: " + e.code }; }
  try {
    if (oldFd !== null) {
      before = fs.fstatSync(oldFd, { bigint: true });
      if (!before.isFile()) return { path: op.path, status: "conflict", reason: "not a regular file" };
    }
    const ex = op.expect;
    if (ex.absent && oldFd !== null) return { path: op.path, status: "conflict", reason: "exists" };
    const beforeHash = oldFd !== null ? sha(readFd(oldFd)) : null;
    if (ex.hash) {
      if (oldFd === null) return { path: op.path, status: "conflict", reason: "gone" };
      if (Number(before.size) !== ex.size || beforeHash !== ex.hash) return { path: op.path, status: "conflict", reason: "changed" };
    }
    const mode = before ? Number(before.mode) & 0o777 : 0o644;
    const tmp = writeTmp(dir, bytes, mode);
    const ours = fs.lstatSync(tmp, { bigint: true });
    try {
      crash(plan, i, "before-rename");
      // Last look, as close to the rename as we can: the file is still what we checked.
      if (oldFd !== null) {
        const now = fs.fstatSync(oldFd, { bigint: true });
        if (now.size !== before.size || now.mtimeNs !== before.mtimeNs) { fs.unlinkSync(tmp); return { path: op.path, status: "conflict", reason: "changed" }; }
      } else if (fs.existsSync(target)) { fs.unlinkSync(tmp); return { path: op.path, status: "conflict", reason: "appeared" }; }
      fs.renameSync(tmp, target);
    } catch (e) { try { fs.unlinkSync(tmp); } catch {} throw e; }
    crash(plan, i, "after-rename");
    fsyncDir(dir);
    if (oldFd !== null) {
      // Jupyter saves in place (truncate, write): a save that opened the old file before our rename wrote into it,
      // possibly within the same clock tick (same size, same time): compare the bytes, not only the times.
      let st = fs.fstatSync(oldFd, { bigint: true });
      if (st.size !== before.size || st.mtimeNs !== before.mtimeNs || sha(readFd(oldFd)) !== beforeHash) {
        const until = Date.now() + 3000;
        for (;;) {
          const t0 = Date.now(); while (Date.now() - t0 < 100) {}
          const again = fs.fstatSync(oldFd, { bigint: true });
          if ((again.size === st.size && again.mtimeNs === st.mtimeNs) || Date.now() > until) break;
          st = again;
        }
        const saved = readFd(oldFd);
        // Put the save back, unless the student saved again since (into our file): that newer save stays.
        let cur = null;
        try { cur = fs.openSync(target, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK); } catch {}
        try {
          if (cur !== null) {
            const cst = fs.fstatSync(cur, { bigint: true });
            if (cst.ino === ours.ino && sha(readFd(cur)) === sha(bytes)) {
              const back = writeTmp(dir, saved, Number(st.mode) & 0o777);
              fs.renameSync(back, target);
              fsyncDir(dir);
            }
          }
        } finally { if (cur !== null) fs.closeSync(cur); }
        return { path: op.path, status: "conflict", raced: true, reason: "saved during the write" };
      }
    }
    return { path: op.path, status: "written" };
  } finally { if (oldFd !== null) fs.closeSync(oldFd); }
}
`;

/** The uid/gid to write a copy as: its folder's owner when the portal is root, the portal's own otherwise. */
async function writerIdentity(root: string): Promise<{ uid?: number; gid?: number }> {
  if (process.getuid?.() !== 0) return {};
  const st = await fs.lstat(root);
  if (!st.isDirectory()) throw new Error("copy root is not a folder");
  return st.uid === 0 ? {} : { uid: st.uid, gid: st.gid };
}

/**
 * Writes files into the copy folder `root` (see the file's comment). Never throws for a file that could not be
 * written: each result says what happened. Throws only if the writer itself could not run (or crashed).
 */
export async function writeCopyFiles(root: string, ops: WriteOp[], opts: { crashAt?: CrashAt; timeoutMs?: number } = {}): Promise<WriteResult[]> {
  if (ops.length === 0) return [];
  for (const op of ops) if (op.delete && !("hash" in op.expect)) throw new Error("a removal needs the expected content");
  for (const op of ops) if (!op.path || op.path.startsWith("/") || op.path.split("/").some((p) => p === ".." || p === "." || p === "")) throw new Error(`bad path: ${op.path}`);
  const id = await writerIdentity(root);
  const plan = JSON.stringify({
    root,
    crashAt: opts.crashAt,
    ops: ops.map((o) => ({ path: o.path, data: o.bytes.toString("base64"), expect: o.expect, required: o.required ?? false, delete: o.delete ?? false })),
  });
  return new Promise((resolve, reject) => {
    const options: SpawnOptionsWithoutStdio = { cwd: "/", env: { PATH: "/usr/bin:/bin" } as unknown as NodeJS.ProcessEnv };
    if (id.uid !== undefined) Object.assign(options, { uid: id.uid, gid: id.gid });
    const child = spawn(process.execPath, ["-e", CHILD], options);
    let out = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d.slice(0, 2000)));
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`copy writer failed (${signal ?? code}): ${err.trim().slice(0, 500)}`));
      try {
        resolve(JSON.parse(out) as WriteResult[]);
      } catch {
        reject(new Error("copy writer said nothing readable"));
      }
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(plan);
  });
}

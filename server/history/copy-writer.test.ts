/**
 * Writing into a student's copy: atomic (crash injection before and after the rename), never over a file that
 * changed, never through a link, as the copy's owner; a save racing the write loses nothing.
 */
import { describe, it, expect, beforeEach, afterEach } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { writeCopyFiles, type WriteOp } from "./copy-writer";

const sha = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
const isRoot = process.getuid?.() === 0;
const STUDENT_UID = 231_457;

let root: string;
let outside: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-writer-"));
  outside = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-outside-"));
  fs.chmodSync(root, 0o755);
});
afterEach(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.rmSync(outside, { recursive: true, force: true });
});

const OLD = Buffer.from(JSON.stringify({ cells: ["ancienne version"] }).repeat(2000));
const NEW = Buffer.from(JSON.stringify({ cells: ["nouvelle version"] }).repeat(3000));
const expectOld = () => ({ hash: sha(OLD), size: OLD.length });
const leftovers = (dir: string) => fs.readdirSync(dir).filter((n) => n.startsWith(".carnet-tmp-"));

describe("writing into a copy", () => {
  it("replaces a file that is still what was read, keeping its mode", async () => {
    fs.writeFileSync(path.join(root, "nb.ipynb"), OLD, { mode: 0o600 });
    const [r] = await writeCopyFiles(root, [{ path: "nb.ipynb", bytes: NEW, expect: expectOld() }]);
    expect(r).toEqual({ path: "nb.ipynb", status: "written" });
    expect(fs.readFileSync(path.join(root, "nb.ipynb")).equals(NEW)).toBe(true);
    expect(fs.statSync(path.join(root, "nb.ipynb")).mode & 0o777).toBe(0o600);
    expect(leftovers(root)).toEqual([]);
  });

  it("skips a file the student changed since it was read, and stops at a required one", async () => {
    fs.writeFileSync(path.join(root, "nb.ipynb"), Buffer.from("sauvegarde de l'élève"));
    const ops: WriteOp[] = [
      { path: "nb.ipynb", bytes: NEW, expect: expectOld(), required: true },
      { path: "data/a.csv", bytes: Buffer.from("x"), expect: { absent: true } },
    ];
    const res = await writeCopyFiles(root, ops);
    expect(res.map((r) => r.status)).toEqual(["conflict", "skipped"]);
    expect(fs.readFileSync(path.join(root, "nb.ipynb"), "utf8")).toBe("sauvegarde de l'élève");
    expect(fs.existsSync(path.join(root, "data"))).toBe(false);
  });

  it("writes a new file only where none is (a student's file of the same name is kept)", async () => {
    fs.mkdirSync(path.join(root, "data"));
    fs.writeFileSync(path.join(root, "data/a.csv"), "à moi");
    const res = await writeCopyFiles(root, [
      { path: "data/a.csv", bytes: Buffer.from("prof"), expect: { absent: true } },
      { path: "data/sub/b.csv", bytes: Buffer.from("prof b"), expect: { absent: true } },
    ]);
    expect(res.map((r) => r.status)).toEqual(["conflict", "written"]);
    expect(fs.readFileSync(path.join(root, "data/a.csv"), "utf8")).toBe("à moi");
    expect(fs.readFileSync(path.join(root, "data/sub/b.csv"), "utf8")).toBe("prof b");
  });

  it("removes a file only if it is still what was written", async () => {
    fs.writeFileSync(path.join(root, "a.csv"), OLD);
    fs.writeFileSync(path.join(root, "b.csv"), "modifié par l'élève");
    const res = await writeCopyFiles(root, [
      { path: "a.csv", bytes: Buffer.alloc(0), delete: true, expect: expectOld() },
      { path: "b.csv", bytes: Buffer.alloc(0), delete: true, expect: expectOld() },
      { path: "c.csv", bytes: Buffer.alloc(0), delete: true, expect: expectOld() },
    ]);
    expect(res.map((r) => r.status)).toEqual(["written", "conflict", "written"]);
    expect(fs.readdirSync(root).sort()).toEqual(["b.csv"]);
  });

  for (const when of ["before-rename", "after-rename"] as const) {
    it(`a crash ${when} leaves the whole old file or the whole new one, never a truncated one`, async () => {
      fs.writeFileSync(path.join(root, "nb.ipynb"), OLD);
      await expect(writeCopyFiles(root, [{ path: "nb.ipynb", bytes: NEW, expect: expectOld() }], { crashAt: { op: 0, when } })).rejects.toThrow(/SIGKILL/);
      const now = fs.readFileSync(path.join(root, "nb.ipynb"));
      expect(now.equals(when === "before-rename" ? OLD : NEW)).toBe(true);
      // The temporary file left by a crash before the rename is hidden, whole, and never taken for the notebook.
      for (const t of leftovers(root)) expect(fs.readFileSync(path.join(root, t)).equals(NEW)).toBe(true);
    });
  }

  it("never follows a link: neither a linked folder nor a linked file", async () => {
    fs.writeFileSync(path.join(outside, "secret.txt"), "secret du portail");
    fs.symlinkSync(outside, path.join(root, "data"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(root, "nb.ipynb"));
    const res = await writeCopyFiles(root, [
      { path: "nb.ipynb", bytes: NEW, expect: { any: true } },
      { path: "data/secret.txt", bytes: NEW, expect: { any: true } },
      { path: "data/new.txt", bytes: NEW, expect: { absent: true } },
    ]);
    expect(res.map((r) => r.status)).toEqual(["conflict", "error", "error"]);
    expect(fs.readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe("secret du portail");
    expect(fs.readdirSync(outside)).toEqual(["secret.txt"]);
    expect(fs.lstatSync(path.join(root, "nb.ipynb")).isSymbolicLink()).toBe(true);
  });

  it("does not hang on a FIFO in place of the notebook", async () => {
    await new Promise<void>((resolve, reject) => spawn("mkfifo", [path.join(root, "nb.ipynb")]).on("exit", (c) => (c === 0 ? resolve() : reject(new Error("mkfifo")))));
    const [r] = await writeCopyFiles(root, [{ path: "nb.ipynb", bytes: NEW, expect: { any: true } }], { timeoutMs: 10_000 });
    expect(r!.status).toBe("conflict");
  });

  it.skipIf(!isRoot)("writes as the owner of the copy folder: files are the student's, and what the student cannot write stays untouched", async () => {
    fs.chownSync(root, STUDENT_UID, STUDENT_UID);
    fs.chmodSync(outside, 0o755); // readable, not writable by the student
    fs.writeFileSync(path.join(outside, "root-file"), "root");
    const res = await writeCopyFiles(root, [
      { path: "nb.ipynb", bytes: NEW, expect: { absent: true } },
      { path: "sub/a.txt", bytes: NEW, expect: { absent: true } },
    ]);
    expect(res.map((r) => r.status)).toEqual(["written", "written"]);
    expect(fs.statSync(path.join(root, "nb.ipynb")).uid).toBe(STUDENT_UID);
    expect(fs.statSync(path.join(root, "sub")).uid).toBe(STUDENT_UID);
    // The folder swapped for a link after the check (the race a root writer would lose) only reaches what the
    // student may write: here, nothing.
    fs.rmSync(path.join(root, "sub"), { recursive: true });
    fs.symlinkSync(outside, path.join(root, "sub"));
    const [r] = await writeCopyFiles(root, [{ path: "sub/root-file", bytes: NEW, expect: { any: true } }]);
    expect(r!.status).toBe("error");
    expect(fs.readFileSync(path.join(outside, "root-file"), "utf8")).toBe("root");
  });

  it("a save racing the write loses nothing: either the write sees it and skips, or the save's bytes are put back", async () => {
    // A real concurrent writer that saves the way Jupyter does (in place: truncate, write, fsync), as fast as it can.
    fs.writeFileSync(path.join(root, "nb.ipynb"), OLD);
    const saver = spawn(process.execPath, [
      "-e",
      `const fs=require("fs");const p=process.argv[1];let n=0;const end=Date.now()+4000;
       while(Date.now()<end){n++;const fd=fs.openSync(p,"w");fs.writeSync(fd,"sauvegarde "+n);fs.fsyncSync(fd);fs.closeSync(fd);}
       fs.writeFileSync(p+".last","sauvegarde "+n);`,
      path.join(root, "nb.ipynb"),
    ]);
    const runs: { read: string; status: string }[] = [];
    const exited = new Promise((r) => saver.on("exit", r));
    let running = true;
    void exited.then(() => (running = false));
    while (running) {
      const cur = fs.readFileSync(path.join(root, "nb.ipynb"));
      const [r] = await writeCopyFiles(root, [{ path: "nb.ipynb", bytes: NEW, expect: { hash: sha(cur), size: cur.length } }]);
      runs.push({ read: cur.toString(), status: r!.raced ? "raced" : r!.status });
    }
    await exited;
    const last = fs.readFileSync(path.join(root, "nb.ipynb.last"), "utf8");
    const final = fs.readFileSync(path.join(root, "nb.ipynb"), "utf8");
    // Either the student's last save is in the file, or our last successful write had read exactly that save
    // (a real merge would then contain it). Anything else would be a save lost.
    if (final !== last) {
      expect(final).toBe(NEW.toString());
      expect(runs.filter((r) => r.status === "written").at(-1)!.read).toBe(last);
    }
    if (process.env.CARNET_DEBUG_RACE) console.log(JSON.stringify(runs.reduce<Record<string, number>>((a, r) => ((a[r.status] = (a[r.status] ?? 0) + 1), a), {})));
    expect(runs.length).toBeGreaterThan(3);
    expect(runs.every((r) => ["written", "conflict", "raced"].includes(r.status))).toBe(true);
  });
});

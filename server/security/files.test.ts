/**
 * Attack: a student turns the files of their own copy into a way to read the portal's secrets. The portal reads
 * copies as root; the student controls every name below their copy folder and runs any code there as their own uid.
 * Each attack is made for real, by a process running as the student's uid (as a kernel cell would), against
 * server/files/copy-files.ts, which every caller uses (the HTTP routes are attacked in files-http.test.ts).
 * A naive read (fs.readFile) is shown to leak first, so that each test can fail.
 * Also: zip entry names made safe per segment, and uploads past busboy's limits answered 413 with nothing stored.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CopyFileError, listBelow, openStreamBelow, readAllBelow, readWithIdentityBelow, statBelow } from "../files/copy-files";
import { parseNotebook } from "../notebooks/validate";
import { checkRelativePath, receiveUpload, safeFolderName, safeZipSegment, ZipPaths } from "../uploads";
import { AppError } from "../errors";
import { chownTree } from "@/spawner/proc";

const run = promisify(execFile);
const isRoot = process.getuid?.() === 0;
/** A student's uid, as the portal gives them (Copy.uid, from 200000 up); this process's own when not root. */
const STUDENT = isRoot ? 200_000 + 50_000 + (process.pid % 10_000) : process.getuid!();
const STUDENT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } as Record<string, string> as NodeJS.ProcessEnv;
const PY = fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

let base: string; // plays the data dir: root-owned, 0711 like the real one
let secretDir: string;
let secretFile: string;
let secret: string;
let copy: string; // data/copies/<id>, owned by the student, 0700

/** Runs Python as the student, in their copy folder (what one cell of their kernel can do). */
async function asStudent(code: string): Promise<string> {
  const { stdout } = await run(PY, ["-c", code], {
    cwd: copy,
    env: STUDENT_ENV,
    timeout: 20_000,
    ...(isRoot ? { uid: STUDENT, gid: STUDENT } : {}),
  });
  return stdout;
}

async function refusal(p: Promise<unknown>): Promise<CopyFileError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(CopyFileError);
    return e as CopyFileError;
  }
  throw new Error("expected a refusal, got the file");
}

/** The refusal says nothing of any file: no secret, no bytes of what it pointed to. */
function expectClean(e: CopyFileError) {
  expect(e.message).not.toContain(secret);
  expect(e.message).not.toMatch(/root:|\$6\$/);
  expect(JSON.stringify(e.details ?? null)).not.toContain(secret);
}

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-sec-files-"));
  fs.chmodSync(base, 0o711);
  secretDir = path.join(base, "secrets");
  fs.mkdirSync(secretDir, { mode: 0o700 });
  secret = `SECRET-${crypto.randomBytes(16).toString("hex")}`;
  secretFile = path.join(secretDir, "proxy-secret");
  fs.writeFileSync(secretFile, secret, { mode: 0o600 });
  fs.mkdirSync(path.join(base, "copies"), { mode: 0o711 });
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

beforeEach(() => {
  copy = path.join(base, "copies", crypto.randomBytes(6).toString("hex"));
  fs.mkdirSync(copy, { mode: 0o700 });
  fs.writeFileSync(path.join(copy, "Exercice.ipynb"), '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}');
  fs.mkdirSync(path.join(copy, "data"));
  fs.writeFileSync(path.join(copy, "data", "notes.csv"), "a;b\n1;2\n");
  if (isRoot) for (const p of [copy, path.join(copy, "Exercice.ipynb"), path.join(copy, "data"), path.join(copy, "data", "notes.csv")]) fs.chownSync(p, STUDENT, STUDENT);
});

describe("reading a copy: what the student made is refused, never followed", () => {
  it("reads the student's own regular files (stat, stream, readAll)", async () => {
    expect((await readAllBelow(copy, "data/notes.csv", { maxBytes: 100 })).toString()).toBe("a;b\n1;2\n");
    const st = await statBelow(copy, "data/notes.csv");
    expect(st).toMatchObject({ path: "data/notes.csv", size: 8 });
    const f = await openStreamBelow(copy, "Exercice.ipynb");
    const chunks: Buffer[] = [];
    for await (const c of f.nodeStream()) chunks.push(c as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString()).nbformat).toBe(4);
  });

  it("readAll (the zip's whole-file read) gives at most the size the file had when opened, even as the student writes", async () => {
    const f = await openStreamBelow(copy, "data/notes.csv");
    // The student appends a secret-sized tail after the open: not read (the size is the one checked at open).
    await asStudent(`open("data/notes.csv", "a").write("x" * 100000)`);
    expect((await f.readAll()).toString()).toBe("a;b\n1;2\n");
    expect(() => f.nodeStream()).toThrow(/already taken/);
    // Shrunk after the open: what is left, never stale or uninitialised bytes.
    const g = await openStreamBelow(copy, "data/notes.csv");
    await asStudent(`open("data/notes.csv", "w").write("a;")`);
    expect((await g.readAll()).toString()).toBe("a;");
  });

  it("a symlink to a secret in place of an annex: refused (symlink), nothing of the secret in the error", async () => {
    await asStudent(`import os; os.remove("data/notes.csv"); os.symlink(${JSON.stringify(secretFile)}, "data/notes.csv")`);
    expect(fs.readFileSync(path.join(copy, "data/notes.csv"), "utf8")).toBe(secret); // the naive read leaks
    for (const read of [
      () => readAllBelow(copy, "data/notes.csv", { maxBytes: 1e6 }),
      () => openStreamBelow(copy, "data/notes.csv"),
      () => statBelow(copy, "data/notes.csv"),
    ]) {
      const e = await refusal(read());
      expect(e.problem).toBe("symlink");
      expect(e.status).toBe(422);
      expect(e.message).toMatch(/lien symbolique/);
      expectClean(e);
    }
  });

  it("a symlink in place of the notebook (to /etc/shadow and to the secret): refused", async () => {
    await asStudent(`import os; os.remove("Exercice.ipynb"); os.symlink("/etc/shadow", "Exercice.ipynb")`);
    expect((await refusal(readAllBelow(copy, "Exercice.ipynb", { maxBytes: 1e6 }))).problem).toBe("symlink");
    await asStudent(`import os; os.remove("Exercice.ipynb"); os.symlink(${JSON.stringify(secretFile)}, "Exercice.ipynb")`);
    const e = await refusal(readAllBelow(copy, "Exercice.ipynb", { maxBytes: 1e6 }));
    expect(e.problem).toBe("symlink");
    expectClean(e);
  });

  it("a symlinked directory component (data -> /etc, data -> the secrets folder): refused", async () => {
    await asStudent(`import os, shutil; shutil.rmtree("data"); os.symlink("/etc", "data")`);
    expect(fs.readFileSync(path.join(copy, "data/passwd"), "utf8")).toContain("root:");
    const e = await refusal(readAllBelow(copy, "data/passwd", { maxBytes: 1e6 }));
    expect(e.problem).toBe("symlink");
    expectClean(e);
    await asStudent(`import os; os.remove("data"); os.makedirs("a/b"); os.symlink(${JSON.stringify(secretDir)}, "a/b/c")`);
    const deep = await refusal(openStreamBelow(copy, "a/b/c/proxy-secret"));
    expect(deep.problem).toBe("symlink");
    expectClean(deep);
  });

  it("a FIFO named like an annex does not hang the reader: refused within 2 s", async () => {
    await asStudent(`import os; os.remove("data/notes.csv"); os.mkfifo("data/notes.csv")`);
    for (const read of [() => readAllBelow(copy, "data/notes.csv", { maxBytes: 1e6 }), () => openStreamBelow(copy, "data/notes.csv")]) {
      const t0 = Date.now();
      const e = await Promise.race([
        refusal(read()),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("the read hangs on a FIFO")), 2000)),
      ]);
      expect(Date.now() - t0).toBeLessThan(2000);
      expect(e.problem).toBe("not_regular");
    }
  });

  it("a Unix socket and a folder named like a file are refused too", async () => {
    await asStudent(`import socket; s = socket.socket(socket.AF_UNIX); s.bind("data/sock.csv")`);
    expect((await refusal(readAllBelow(copy, "data/sock.csv", { maxBytes: 1e6 }))).problem).toBe("not_regular");
    expect((await refusal(readAllBelow(copy, "data", { maxBytes: 1e6 }))).problem).toBe("not_regular");
  });

  it("a hard link to a file the student does not own is refused (the kernel already refuses making one)", async () => {
    // fs.protected_hardlinks=1 (Debian's default) stops the student making it; where it is 0, this is what they get.
    const made = await asStudent(`import os\ntry:\n    os.link(${JSON.stringify(secretFile)}, "h.csv"); print("made")\nexcept OSError as e: print("refused", e.errno)`);
    if (isRoot) expect(made.trim()).toMatch(/^refused/);
    fs.rmSync(path.join(copy, "h.csv"), { force: true });
    fs.linkSync(secretFile, path.join(copy, "h.csv")); // as a system without protected_hardlinks would let them
    expect(fs.readFileSync(path.join(copy, "h.csv"), "utf8")).toBe(secret);
    if (isRoot) {
      const e = await refusal(readAllBelow(copy, "h.csv", { maxBytes: 1e6 }));
      expect(e.problem).toBe("hardlink");
      expectClean(e);
    }
    // the student's own hard links are their files
    await asStudent(`import os; os.link("data/notes.csv", "data/copie.csv")`);
    expect((await readAllBelow(copy, "data/copie.csv", { maxBytes: 100 })).toString()).toBe("a;b\n1;2\n");
  });

  it("paths that leave the copy are refused before anything is opened", async () => {
    for (const rel of ["../secrets/proxy-secret", "/etc/passwd", "data/../../secrets/proxy-secret", "", ".", "data//notes.csv", "a\0b"]) {
      const e = await refusal(readAllBelow(copy, rel, { maxBytes: 1e6 }));
      expect(e.problem).toBe("bad_path");
      expect(e.status).toBe(404);
    }
    expect((await refusal(statBelow(copy, "absent.csv"))).status).toBe(404);
  });

  it("the size cap is enforced (413), for a file that grows too", async () => {
    fs.writeFileSync(path.join(copy, "big.csv"), Buffer.alloc(5000, 0x61));
    const e = await refusal(readAllBelow(copy, "big.csv", { maxBytes: 4096 }));
    expect(e.problem).toBe("too_large");
    expect(e.status).toBe(413);
    expect(e.message).not.toContain("aaaa");
    expect((await refusal(openStreamBelow(copy, "big.csv", { maxBytes: 4096 }))).problem).toBe("too_large");
    // A stream never reads past the size seen at open, even if the file grows meanwhile.
    const f = await openStreamBelow(copy, "big.csv");
    fs.appendFileSync(path.join(copy, "big.csv"), Buffer.alloc(100_000, 0x62));
    let n = 0;
    for await (const c of f.nodeStream()) n += (c as Buffer).length;
    expect(n).toBe(5000);
  });

  it("gives the identity of the descriptor read (for caches), which a rewrite changes even with the mtime restored", async () => {
    const f = path.join(copy, "data", "notes.csv");
    const a = await readWithIdentityBelow(copy, "data/notes.csv", { maxBytes: 100 });
    const st = fs.statSync(f, { bigint: true });
    expect(a.identity).toMatchObject({ dev: st.dev, ino: st.ino, size: 8n, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs });
    fs.writeFileSync(f, "a;b\n3;4\n");
    fs.utimesSync(f, st.atime, st.mtime);
    const b = await readWithIdentityBelow(copy, "data/notes.csv", { maxBytes: 100 });
    expect(b.bytes.toString()).toBe("a;b\n3;4\n");
    expect(b.identity?.ctimeNs).not.toBe(a.identity?.ctimeNs);
    expect((await refusal(readWithIdentityBelow(copy, "Exercice.ipynb", { maxBytes: 10 }))).problem).toBe("too_large");
  });

  it("a directory swapped for a symlink during reads (race) never yields the secret", async () => {
    // The student keeps swapping data/ between a real folder holding notes.csv and a link to a folder of the
    // portal's holding a notes.csv with the secret. Each rename is atomic; the reader races them.
    const target = path.join(base, `target-${crypto.randomBytes(4).toString("hex")}`);
    fs.mkdirSync(target, { mode: 0o700 });
    fs.writeFileSync(path.join(target, "notes.csv"), secret, { mode: 0o600 });
    const swapper: ChildProcess = spawn(
      PY,
      [
        "-c",
        `import os, time
os.symlink(${JSON.stringify(target)}, "link")
os.rename("data", "real")
end = time.time() + 30
while time.time() < end:
    os.rename("real", "data"); os.rename("data", "real")
    os.rename("link", "data"); os.rename("data", "link")`,
      ],
      { cwd: copy, env: STUDENT_ENV, stdio: "ignore", ...(isRoot ? { uid: STUDENT, gid: STUDENT } : {}) },
    );
    try {
      await new Promise((r) => setTimeout(r, 200)); // let it make the link and start swapping
      const naive = { secret: 0, ok: 0 };
      const ours = { secret: 0, ok: 0, refused: 0 };
      for (let i = 0; i < 1500; i++) {
        const a = await fs.promises.readFile(path.join(copy, "data", "notes.csv"), "utf8").catch(() => "");
        if (a === secret) naive.secret++;
        try {
          const b = (await readAllBelow(copy, "data/notes.csv", { maxBytes: 1e6 })).toString();
          if (b === secret) ours.secret++;
          else ours.ok++;
        } catch (e) {
          if (!(e instanceof CopyFileError)) throw e;
          expectClean(e);
          ours.refused++;
        }
        if (i > 300 && naive.secret > 0 && ours.ok > 0 && ours.refused > 0) break;
      }
      expect(naive.secret).toBeGreaterThan(0); // the race is real: a naive reader gets the secret
      expect(ours.refused).toBeGreaterThan(0); // and ours met the link
      expect(ours.secret).toBe(0);
    } finally {
      swapper.kill("SIGKILL");
    }
  });

  it("lists regular files only: no link followed, no FIFO, socket, checkpoints or .carnet", async () => {
    await asStudent(`import os, socket
os.symlink(${JSON.stringify(secretFile)}, "lien.csv")
os.symlink(${JSON.stringify(secretDir)}, "dossier-lien")
os.symlink("/etc", "etc")
os.mkfifo("tube.csv")
s = socket.socket(socket.AF_UNIX); s.bind("prise")
for d in [".ipynb_checkpoints", ".carnet", "data/.ipynb_checkpoints"]:
    os.makedirs(d, exist_ok=True); open(d + "/x.ipynb", "w").write("x")
os.makedirs("sous/dossier"); open("sous/dossier/f.txt", "w").write("f")`);
    const { files, truncated } = await listBelow(copy);
    expect(files.map((f) => f.path)).toEqual(["Exercice.ipynb", "data/notes.csv", "sous/dossier/f.txt"]);
    expect(truncated).toBe(false);
    const few = await listBelow(copy, { maxFiles: 2 });
    expect(few.files).toHaveLength(2);
    expect(few.truncated).toBe(true);
  });
});

describe("giving the copy to its student (chown -R as root at each server start) never chowns outside it", () => {
  it.skipIf(!isRoot)("a folder raced against a link to a root-only folder: the root-only file keeps its owner", async () => {
    const victimDir = path.join(base, `victim-${crypto.randomBytes(4).toString("hex")}`);
    fs.mkdirSync(victimDir, { mode: 0o700 });
    const victim = path.join(victimDir, "notes.csv");
    fs.writeFileSync(victim, secret, { mode: 0o600 });
    fs.writeFileSync(path.join(copy, "data", "notes.csv"), "a;b\n");
    fs.chownSync(path.join(copy, "data", "notes.csv"), 0, 0); // a file the portal copied in: to be given to her
    const swapper = spawn(
      PY,
      [
        "-c",
        `import os, time
os.symlink(${JSON.stringify(victimDir)}, "link")
os.rename("data", "real")
end = time.time() + 30
while time.time() < end:
    os.rename("real", "data"); os.rename("data", "real")
    os.rename("link", "data"); os.rename("data", "link")`,
      ],
      { cwd: copy, env: STUDENT_ENV, stdio: "ignore", uid: STUDENT, gid: STUDENT },
    );
    try {
      await new Promise((r) => setTimeout(r, 200));
      // A path-based walk lost this race within a few hundred runs here; a student gets one run per server start.
      const end = Date.now() + 8000;
      for (let i = 0; i < 20_000 && Date.now() < end && fs.statSync(victim).uid === 0; i++) {
        await chownTree(copy, STUDENT, STUDENT).catch(() => undefined);
      }
    } finally {
      swapper.kill("SIGKILL");
    }
    expect(fs.statSync(victim).uid).toBe(0);
    expect(fs.statSync(victimDir).uid).toBe(0);
  });

  it.skipIf(!isRoot)("a hard link to a root-only file is not chowned; her own files are", async () => {
    fs.linkSync(secretFile, path.join(copy, "h.csv")); // as a system without fs.protected_hardlinks would let her
    fs.writeFileSync(path.join(copy, "data", "copie.csv"), "x");
    await chownTree(copy, STUDENT, STUDENT);
    expect(fs.statSync(secretFile).uid).toBe(0);
    expect(fs.statSync(path.join(copy, "data", "copie.csv")).uid).toBe(STUDENT);
  });
});

describe("the copy page's JSON error never prints the file", () => {
  it("a non-JSON notebook: the message names the file, not its start", () => {
    for (const text of [`${secret}\n`, `{"a": ${secret}}`, `[1, 2, ${secret}`]) {
      try {
        parseNotebook(Buffer.from(text), "Exercice.ipynb");
        throw new Error("accepted");
      } catch (e) {
        expect((e as AppError).code).toBe("invalid_notebook");
        expect((e as Error).message).toMatch(/« Exercice\.ipynb » n'est pas un fichier JSON/);
        expect((e as Error).message).not.toContain(secret.slice(0, 8));
      }
    }
  });
});

describe("zip export: student-made names cannot leave the student's folder", () => {
  it.each([
    ["..\\..\\x.bat", ".._.._x.bat"],
    ["C:", "C_"],
    ["C:x", "C_x"],
    ["a/b", "a_b"],
    ["..", "_"],
    [".", "_"],
    ["", "_"],
    ["notes. . .", "notes"],
    ["notes.csv   ", "notes.csv"],
    ["CON", "CON_"],
    ["con.txt", "con_.txt"],
    ["nul .txt", "nul_ .txt"],
    ["LPT1.csv", "LPT1_.csv"],
    ["COM\u00b9", "COM\u00b9_"],
    ["Aux armes.txt", "Aux armes.txt"],
    ["facture\u202Etxt.exe", "facture_txt.exe"],
    ["a\u200Bb\uFEFF.py", "a_b_.py"],
    ["tab\there\u0001", "tab_here_"],
    ['x<y>z|"w"?*', "x_y_z__w___"],
    ["e\u0301te\u0301.csv", "\u00e9t\u00e9.csv"],
  ])("safeZipSegment(%j) = %j", (raw, safe) => {
    expect(safeZipSegment(raw)).toBe(safe);
  });

  it("every entry stays under the folder, one name per Windows-equivalent path", () => {
    const z = new ZipPaths("Zoé L'Hôte (2nde 3)");
    const names = [
      ["..\\..\\x.bat"],
      ["C:", "x"],
      ["Notes.csv"],
      ["notes.csv"],
      ["a:b"],
      ["a_b"],
      ["dossier.", "f"],
      ["dossier", "g"],
      ["dossier.", "h"],
    ].map((s) => z.entryName(s));
    expect(names).toEqual([
      "Zoé L'Hôte (2nde 3)/.._.._x.bat",
      "Zoé L'Hôte (2nde 3)/C_/x",
      "Zoé L'Hôte (2nde 3)/Notes.csv",
      "Zoé L'Hôte (2nde 3)/notes (2).csv",
      "Zoé L'Hôte (2nde 3)/a_b",
      "Zoé L'Hôte (2nde 3)/a_b (2)",
      "Zoé L'Hôte (2nde 3)/dossier/f",
      "Zoé L'Hôte (2nde 3)/dossier (2)/g",
      "Zoé L'Hôte (2nde 3)/dossier/h",
    ]);
    for (const n of names) {
      const segs = n.split("/");
      expect(segs[0]).toBe("Zoé L'Hôte (2nde 3)");
      for (const s of segs) expect(s).not.toMatch(/^\.\.?$|[\\:*?"<>|\u202e\u200b]|[. ]$/);
    }
  });

  it("a student's display name with bidi or invisible characters makes a plain folder name", () => {
    const taken = new Set<string>();
    expect(safeFolderName("Zoé\u202Eexe.txt", taken)).toBe("Zoé_exe.txt");
    expect(safeFolderName("Lu\u200Bc", taken)).toBe("Lu_c");
    expect(safeFolderName("nul .txt", taken)).toBe("nul .txt_");
  });
});

describe("uploads: odd names refused with a reason, limits answered 413 with nothing stored", () => {
  let stagingRoot: string;
  beforeEach(() => {
    stagingRoot = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-sec-upload-"));
  });
  afterAll(() => {
    for (const d of fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith("carnet-sec-upload-"))) fs.rmSync(path.join(os.tmpdir(), d), { recursive: true, force: true });
  });
  const nb = '{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}';
  const post = (fd: FormData) => receiveUpload(new Request("http://carnet.test/api/v1/activities", { method: "POST", body: fd }), { stagingRoot });
  async function refused(p: Promise<unknown>): Promise<AppError> {
    try {
      await p;
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      return e as AppError;
    }
    throw new Error("the upload was accepted");
  }

  it.each([
    ["facture\u202Etxt.exe", /sens de l'écriture/],
    ["note\u2066s.csv", /sens de l'écriture/],
    ["no\u200Btes.csv", /invisible/],
    ["\uFEFFnotes.csv", /invisible/],
    ["CON", /réservé par Windows/],
    ["données/aux.csv", /réservé par Windows/],
    ["com1", /réservé par Windows/],
  ])("refuses %j with a French reason", (name, why) => {
    try {
      checkRelativePath(name);
      throw new Error("accepted");
    } catch (e) {
      expect((e as AppError).code).toBe("invalid_file_name");
      expect((e as AppError).message).toMatch(why);
      expect((e as AppError).message).not.toMatch(/[\u202e\u2066\u200b\ufeff]/); // shown escaped, not applied
    }
  });

  it("keeps ordinary French names (Aux armes, con-fiture, accents)", () => {
    for (const n of ["Aux armes.txt", "con-fiture.csv", "Exercice élève n°1 l'été.ipynb", "comète.png", "lpt.txt"]) expect(checkRelativePath(n)).toBe(n);
  });

  it("1,001 files: 413 with a code and a French message, nothing stored (not 201 with 1,000)", async () => {
    const fd = new FormData();
    fd.set("title", "Trop");
    fd.set("notebook", new File([nb], "Exercice.ipynb"));
    for (let i = 0; i < 1000; i++) fd.append("annexes", new File(["x"], `f${i}.txt`));
    const e = await refused(post(fd));
    expect(e.status).toBe(413);
    expect(e.code).toBe("too_large");
    expect(e.details).toMatchObject({ limit: "files", max: 1000 });
    expect(e.message).toMatch(/Trop de fichiers/);
    expect(fs.readdirSync(stagingRoot)).toEqual([]);
  });

  it("exactly 1,000 files are fine", async () => {
    const fd = new FormData();
    fd.set("title", "Juste");
    fd.set("notebook", new File([nb], "Exercice.ipynb"));
    for (let i = 0; i < 999; i++) fd.append("annexes", new File(["x"], `f${i}.txt`));
    const up = await post(fd);
    expect(up.files).toHaveLength(1000);
    fs.rmSync(up.stagingDir, { recursive: true, force: true });
  });

  it("too many fields, too many parts, a field too long: 413 each, nothing stored", async () => {
    const fields = new FormData();
    fields.set("notebook", new File([nb], "Exercice.ipynb"));
    for (let i = 0; i < 21; i++) fields.append(`champ${i}`, "v");
    expect((await refused(post(fields))).details).toMatchObject({ limit: "fields" });

    const parts = new FormData();
    parts.set("notebook", new File([nb], "Exercice.ipynb"));
    for (let i = 0; i < 19; i++) parts.append(`champ${i}`, "v");
    for (let i = 0; i < 1000; i++) parts.append("ignore", new File(["x"], `f${i}.txt`)); // ignored field, still parts
    for (let i = 0; i < 100; i++) parts.append("ignore2", new File(["x"], `g${i}.txt`));
    const p = await refused(post(parts));
    expect(p.status).toBe(413);

    const long = new FormData();
    long.set("title", "t".repeat(70 * 1024));
    long.set("notebook", new File([nb], "Exercice.ipynb"));
    const l = await refused(post(long));
    expect(l.status).toBe(413);
    expect(l.message).toMatch(/titre.*trop long/);
    expect(fs.readdirSync(stagingRoot)).toEqual([]);
  });
});

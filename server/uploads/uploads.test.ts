import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough, Readable } from "node:stream";
import { ZipArchive } from "archiver";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { checkRelativePath, receiveUpload, safeFolderName, type UploadLimits } from "./index";

const CORPUS = path.resolve(__dirname, "../../../shared/corpus");
const NB_BYTES = fs.readFileSync(path.join(CORPUS, "nbformat/valid/test4.5.ipynb"));
const MB = 1024 * 1024;

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});
function newRoot(): string {
  const r = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-uploads-test-"));
  roots.push(r);
  return r;
}
const limitsFor = (stagingRoot: string, more: Partial<UploadLimits> = {}): UploadLimits => ({
  stagingRoot,
  maxNotebookBytes: 20 * MB,
  maxActivityBytes: 200 * MB,
  maxZipEntries: 5000,
  ...more,
});

type ZipItem = { name: string; data?: Buffer | (() => Readable); symlinkTo?: string };
async function makeZip(items: ZipItem[], level = 6): Promise<Buffer> {
  const archive = new ZipArchive({ zlib: { level } });
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    out.on("end", () => resolve());
    archive.on("error", reject);
  });
  archive.pipe(out);
  for (const it of items) {
    if (it.symlinkTo) archive.symlink(it.name, it.symlinkTo);
    else {
      const data = typeof it.data === "function" ? it.data() : (it.data ?? Buffer.from("x"));
      archive.append(data, { name: it.name });
    }
  }
  await archive.finalize();
  await done;
  return Buffer.concat(chunks);
}

function zeros(total: number): () => Readable {
  return () => {
    const chunk = Buffer.alloc(MB);
    let left = total;
    return new Readable({
      read() {
        if (left <= 0) return this.push(null);
        const n = Math.min(left, chunk.length);
        left -= n;
        this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      },
    });
  };
}

/** Replace every occurrence of a same-length byte string (zip names appear in local and central headers). */
function patch(buf: Buffer, from: string, to: string): Buffer {
  expect(Buffer.byteLength(from)).toBe(Buffer.byteLength(to));
  const out = Buffer.from(buf);
  const f = Buffer.from(from);
  let i = out.indexOf(f);
  expect(i).toBeGreaterThanOrEqual(0);
  while (i >= 0) {
    Buffer.from(to).copy(out, i);
    i = out.indexOf(f, i + 1);
  }
  return out;
}

function form(parts: { title?: string; description?: string; notebook?: [string, Buffer][]; annexes?: [string, Buffer][] }): FormData {
  const fd = new FormData();
  if (parts.title !== undefined) fd.append("title", parts.title);
  if (parts.description !== undefined) fd.append("description", parts.description);
  for (const [name, data] of parts.notebook ?? []) fd.append("notebook", new File([new Uint8Array(data)], name));
  for (const [name, data] of parts.annexes ?? []) fd.append("annexes", new File([new Uint8Array(data)], name));
  return fd;
}
const request = (fd: FormData) => new Request("http://carnet.test/api/v1/activities", { method: "POST", body: fd });

async function refusal(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    return e as AppError;
  }
  throw new Error("expected a refusal");
}
const leftovers = (root: string) => fs.readdirSync(root);

function listFiles(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe("receiveUpload", () => {
  it("stores the notebook and annexes with their exact names, unpacks zips into a folder", async () => {
    const root = newRoot();
    const zip = await makeZip([
      { name: "données/élève.csv", data: Buffer.from("a;b\n1;2\n") },
      { name: "images/", data: Buffer.alloc(0) },
      { name: "__MACOSX/données/._élève.csv", data: Buffer.from("junk") },
      { name: "données/.DS_Store", data: Buffer.from("junk") },
    ]);
    const up = await receiveUpload(
      request(
        form({
          title: " TP 1 ",
          description: "Première séance",
          notebook: [["Exercice élève n°1 l'été.ipynb", NB_BYTES]],
          annexes: [
            ["a&b #1 50% (copie).csv", Buffer.from("x,y\n")],
            ["Ressources du TP.zip", zip],
          ],
        }),
      ),
      limitsFor(root),
    );
    expect(up.title).toBe("TP 1");
    expect(up.description).toBe("Première séance");
    expect(up.notebook).toEqual({ name: "Exercice élève n°1 l'été.ipynb", path: "Exercice élève n°1 l'été.ipynb" });
    expect(up.files.map((f) => f.path).sort()).toEqual(
      ["Exercice élève n°1 l'été.ipynb", "a&b #1 50% (copie).csv", "Ressources du TP/données/élève.csv"].sort(),
    );
    expect(up.totalSize).toBe(NB_BYTES.length + 4 + 8);
    expect(listFiles(up.stagingDir).sort()).toEqual(up.files.map((f) => f.path).sort());
    expect(fs.statSync(path.join(up.stagingDir, "Ressources du TP/images")).isDirectory()).toBe(true);
    expect(fs.readFileSync(path.join(up.stagingDir, "Exercice élève n°1 l'été.ipynb")).equals(NB_BYTES)).toBe(true);
    // only the staging folder is left: the zip itself was removed
    expect(leftovers(root)).toEqual([path.basename(up.stagingDir)]);
  });

  it("stores names NFC-normalized", async () => {
    const root = newRoot();
    const nfd = "E\u0301te\u0301.ipynb";
    const up = await receiveUpload(request(form({ title: "t", notebook: [[nfd, NB_BYTES]] })), limitsFor(root));
    expect(up.notebook.name).toBe("\u00c9t\u00e9.ipynb");
    expect(fs.existsSync(path.join(up.stagingDir, "\u00c9t\u00e9.ipynb"))).toBe(true);
  });

  it("refuses on Content-Length before reading the body", async () => {
    const root = newRoot();
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(1024));
      },
    });
    const req = new Request("http://carnet.test/x", {
      method: "POST",
      body,
      headers: { "content-type": "multipart/form-data; boundary=b", "content-length": String(300 * MB) },
      duplex: "half",
    } as RequestInit);
    const e = await refusal(receiveUpload(req, limitsFor(root)));
    expect(e.code).toBe("too_large");
    expect(e.message).toContain("200 Mo");
    expect(pulled).toBeLessThanOrEqual(1); // a ReadableStream may pre-pull one chunk on creation
    expect(leftovers(root)).toEqual([]);
  });

  it("aborts a body without Content-Length at the first byte over the limit", async () => {
    const root = newRoot();
    const boundary = "----carnetboundary";
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nGros\r\n` +
        `--${boundary}\r\nContent-Disposition: form-data; name="notebook"; filename="gros.ipynb"\r\n` +
        `Content-Type: application/octet-stream\r\n\r\n`,
    );
    const total = 500 * MB;
    let sent = 0;
    const chunk = new Uint8Array(64 * 1024).fill(97);
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(head);
        sent += head.length;
      },
      pull(c) {
        if (sent >= total) return c.close();
        c.enqueue(chunk);
        sent += chunk.length;
      },
    });
    const req = new Request("http://carnet.test/x", {
      method: "POST",
      body,
      headers: { "content-type": `multipart/form-data; boundary=${boundary}` },
      duplex: "half",
    } as RequestInit);
    const e = await refusal(receiveUpload(req, limitsFor(root, { maxNotebookBytes: 2 * MB, maxActivityBytes: 5 * MB })));
    expect(e.code).toBe("too_large");
    expect(e.message).toMatch(/gros\.ipynb.*2 Mo/);
    // stopped right after the notebook limit, far from the 500 MB the client wanted to send
    expect(sent).toBeLessThan(4 * MB);
    expect(leftovers(root)).toEqual([]);
  });

  it("refuses activities over the total limit while streaming", async () => {
    const root = newRoot();
    const e = await refusal(
      receiveUpload(
        request(form({ title: "t", notebook: [["a.ipynb", NB_BYTES]], annexes: [["big.bin", Buffer.alloc(3 * MB)]] })),
        limitsFor(root, { maxActivityBytes: 2 * MB }),
      ),
    );
    expect(e.code).toBe("too_large");
    expect(e.message).toContain("2 Mo");
    expect(leftovers(root)).toEqual([]);
  });

  it("requires a title, exactly one .ipynb notebook", async () => {
    const root = newRoot();
    expect((await refusal(receiveUpload(request(form({ notebook: [["a.ipynb", NB_BYTES]] })), limitsFor(root)))).message).toMatch(/titre/);
    expect((await refusal(receiveUpload(request(form({ title: "t" })), limitsFor(root)))).message).toMatch(/Aucun notebook/);
    const two = await refusal(
      receiveUpload(request(form({ title: "t", notebook: [["a.ipynb", NB_BYTES], ["b.ipynb", NB_BYTES]] })), limitsFor(root)),
    );
    expect(two.message).toMatch(/Un seul notebook/);
    const py = await refusal(receiveUpload(request(form({ title: "t", notebook: [["a.py", NB_BYTES]] })), limitsFor(root)));
    expect(py.code).toBe("invalid_file_name");
    const ok = await receiveUpload(request(form({ notebook: [["a.ipynb", NB_BYTES]] })), limitsFor(root, { titleOptional: true }));
    expect(ok.title).toBe("");
    fs.rmSync(ok.stagingDir, { recursive: true });
    expect(leftovers(root)).toEqual([]);
  });

  it("refuses name collisions (notebook vs annex, NFC variants, file vs zip folder)", async () => {
    const root = newRoot();
    const cases: [string, [string, Buffer][]][] = [
      ["a.ipynb", [["a.ipynb", Buffer.from("x")]]],
      ["b.ipynb", [["\u00e9.csv", Buffer.from("x")], ["e\u0301.csv", Buffer.from("y")]]],
      ["c.ipynb", [["data", Buffer.from("x")], ["data.zip", await makeZip([{ name: "f.txt" }])]]],
      ["d.ipynb", [["d.zip", await makeZip([{ name: "x" }])], ["d.zip", await makeZip([{ name: "y" }])]]],
    ];
    for (const [nb, annexes] of cases) {
      const e = await refusal(receiveUpload(request(form({ title: "t", notebook: [[nb, NB_BYTES]], annexes })), limitsFor(root)));
      expect(e.code).toBe("invalid_file_name");
      expect(e.message).toMatch(/« .+ »/);
    }
    expect(leftovers(root)).toEqual([]);
  });

  describe("zip annexes", () => {
    let honestBomb: Buffer;
    beforeAll(async () => {
      // 2000 MB of zeros, sizes declared honestly: about 2 MB compressed
      honestBomb = await makeZip([{ name: "zeros.bin", data: zeros(2000 * MB) }], 1);
    }, 120_000);

    const upload = (root: string, zip: Buffer, more: Partial<UploadLimits> = {}) =>
      receiveUpload(request(form({ title: "t", notebook: [["nb.ipynb", NB_BYTES]], annexes: [["archive.zip", zip]] })), limitsFor(root, more));

    it("refuses an honest zip bomb from its central directory", async () => {
      const root = newRoot();
      expect(honestBomb.length).toBeLessThan(10 * MB);
      const e = await refusal(upload(root, honestBomb));
      expect(e.code).toBe("zip_bomb");
      expect(e.message).toContain("archive.zip");
      expect(leftovers(root)).toEqual([]);
    });

    it("refuses an honest zip over the remaining budget even at a normal ratio", async () => {
      const root = newRoot();
      const zip = await makeZip([{ name: "a.bin", data: Buffer.alloc(3 * MB, 7) }], 0);
      const e = await refusal(upload(root, zip, { maxActivityBytes: 3 * MB }));
      expect(["zip_bomb", "too_large"]).toContain(e.code);
      expect(leftovers(root)).toEqual([]);
    });

    it("refuses a zip whose central directory lies about the size, while inflating", async () => {
      const root = newRoot();
      const zip = await makeZip([{ name: "liar.bin", data: zeros(50 * MB) }], 9);
      // central directory header: signature 0x02014b50, uncompressed size at offset 24
      const cd = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
      expect(cd).toBeGreaterThan(0);
      const lying = Buffer.from(zip);
      lying.writeUInt32LE(1000, cd + 24);
      const e = await refusal(upload(root, lying));
      expect(e.code).toBe("zip_bomb");
      expect(e.message).toMatch(/plus de données que l'archive ne l'annonce/);
      expect(leftovers(root)).toEqual([]);
    });

    it("refuses too many entries", async () => {
      const root = newRoot();
      const zip = await makeZip(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}.txt` })));
      const e = await refusal(upload(root, zip, { maxZipEntries: 10 }));
      expect(e.code).toBe("zip_bomb");
      expect(e.message).toMatch(/11 fichiers.*10/);
      expect(leftovers(root)).toEqual([]);
    });

    it.each([
      ["aa/evil.txt", "../evil.txt"],
      ["a/aa/aa/evil", "a/../../evil"],
      ["Xetc/passwd", "/etc/passwd"],
      ["C_/evil", "C:/evil"],
      ["aaXb", "aa\u0000b"], // NUL (other control bytes decode as CP437 symbols)
    ])("refuses the entry %s patched to %s", async (placeholder, evil) => {
      const root = newRoot();
      const zip = patch(await makeZip([{ name: placeholder }, { name: "ok.txt" }]), placeholder, evil);
      const e = await refusal(upload(root, zip));
      expect(e.code).toBe("invalid_file_name");
      expect(e.message).toContain("archive.zip");
      expect(leftovers(root)).toEqual([]);
      expect(fs.existsSync(path.join(root, "..", "evil.txt"))).toBe(false);
    });

    it("refuses symlinks", async () => {
      const root = newRoot();
      const zip = await makeZip([{ name: "lien", symlinkTo: "/etc/passwd" }]);
      const e = await refusal(upload(root, zip));
      expect(e.code).toBe("invalid_file_name");
      expect(e.message).toMatch(/lien symbolique/);
      expect(leftovers(root)).toEqual([]);
    });

    it("refuses a file and a folder of the same name inside a zip", async () => {
      const root = newRoot();
      const zip = await makeZip([{ name: "x" }, { name: "x/y" }]);
      const e = await refusal(upload(root, zip));
      expect(e.code).toBe("invalid_file_name");
      expect(leftovers(root)).toEqual([]);
    });

    it("refuses something that is not a zip", async () => {
      const root = newRoot();
      const e = await refusal(upload(root, Buffer.from("not a zip at all")));
      expect(e.code).toBe("bad_request");
      expect(e.message).toContain("archive.zip");
      expect(leftovers(root)).toEqual([]);
    });
  });
});

describe("checkRelativePath", () => {
  it("keeps accents, spaces and apostrophes, normalized to NFC", () => {
    expect(checkRelativePath("Exercice élève n°1 l'été.ipynb")).toBe("Exercice élève n°1 l'été.ipynb");
    expect(checkRelativePath("a&b #1 50% (copie).csv")).toBe("a&b #1 50% (copie).csv");
    expect(checkRelativePath("dossier/e\u0301te\u0301.csv")).toBe("dossier/\u00e9t\u00e9.csv");
  });
  it.each([
    [""],
    ["   "],
    ["/etc/passwd"],
    ["C:/x"],
    ["c:x"],
    ["../x"],
    ["a/../../x"],
    ["a/./b"],
    ["a//b"],
    ["a/"],
    ["..\\x"],
    ["a\\b"],
    ["a\u0000b"],
    ["a\nb"],
    ["a\u007fb"],
    ["é".repeat(128) + ".txt"],
    [Array.from({ length: 17 }, () => "d").join("/")],
  ])("refuses %j", (name) => {
    try {
      checkRelativePath(name);
      throw new Error("accepted");
    } catch (e) {
      expect(e).toBeInstanceOf(AppError);
      expect((e as AppError).code).toBe("invalid_file_name");
      expect((e as AppError).message).toMatch(/^Le nom de fichier « .* » n'est pas accepté : /s);
    }
  });
});

describe("safeFolderName", () => {
  it("keeps accents and spaces, replaces forbidden characters, dedupes", () => {
    const taken = new Set<string>();
    expect(safeFolderName("Zoé L'Hôte", taken)).toBe("Zoé L'Hôte");
    expect(safeFolderName("Zoé L'Hôte", taken)).toBe("Zoé L'Hôte (2)");
    expect(safeFolderName("zoé l'hôte", taken)).toBe("zoé l'hôte (3)");
    expect(safeFolderName('a/b\\c:d*e?f"g<h>i|j\u0001', taken)).toBe("a_b_c_d_e_f_g_h_i_j_");
    expect(safeFolderName("  ..Marc..  ", taken)).toBe("Marc");
    expect(safeFolderName("...", taken)).toBe("sans nom");
    expect(safeFolderName("CON", taken)).toBe("CON_");
    expect(safeFolderName("Ze\u0301lie", taken)).toBe("Z\u00e9lie");
    expect(Buffer.byteLength(safeFolderName("é".repeat(300), taken))).toBeLessThanOrEqual(255);
    expect(taken.has("Zoé L'Hôte (2)")).toBe(true);
  });
});

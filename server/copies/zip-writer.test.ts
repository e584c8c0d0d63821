/**
 * The export's zip writer, checked by real readers: Info-ZIP's `unzip -t` (CRC of every entry), Python's zipfile
 * (methods, sizes, ZIP64 counts) and yauzl (contents), on real files.
 */
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import yauzl from "yauzl";
import { isCompressedFormat, zipStream, type ZipEntrySource, type ZipFile } from "./zip-writer";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-zip-writer-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

async function fileOf(p: string): Promise<ZipFile & { closed: () => boolean }> {
  const fh = await fs.promises.open(p, "r");
  const st = await fh.stat();
  let closed = false;
  return {
    size: st.size,
    mtime: st.mtime,
    nodeStream: () => fh.createReadStream({ start: 0, end: Math.max(0, st.size - 1), autoClose: true }).on("close", () => (closed = true)),
    close: async () => {
      closed = true;
      await fh.close().catch(() => undefined);
    },
    closed: () => closed,
  };
}

async function* fromList(xs: ZipEntrySource[]): AsyncGenerator<ZipEntrySource> {
  for (const x of xs) yield x;
}

async function writeZip(entries: ZipEntrySource[] | AsyncIterable<ZipEntrySource>, opts = {}): Promise<string> {
  const out = path.join(dir, `${crypto.randomBytes(6).toString("hex")}.zip`);
  const chunks: Buffer[] = [];
  for await (const c of zipStream(Array.isArray(entries) ? fromList(entries) : entries, opts)) chunks.push(c as Buffer);
  fs.writeFileSync(out, Buffer.concat(chunks));
  return out;
}

/** name -> [compress_type, file_size, compress_size], and the entry count, as Python's zipfile reads them. */
function pyInfo(zipPath: string): { count: number; entries: Record<string, [number, number, number]> } {
  const py = `import json,sys,zipfile
z=zipfile.ZipFile(sys.argv[1])
bad=z.testzip()
assert bad is None, bad
print(json.dumps({"count":len(z.infolist()),"entries":{i.filename:[i.compress_type,i.file_size,i.compress_size] for i in z.infolist()[:50]}}))`;
  return JSON.parse(execFileSync("/usr/bin/python3", ["-c", py, zipPath], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 })) as ReturnType<typeof pyInfo>;
}

function unzipTest(zipPath: string): string {
  return execFileSync("unzip", ["-t", "-qq", zipPath], { encoding: "utf8" });
}

function contents(zipPath: string): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, Buffer>();
    yauzl.open(zipPath, { lazyEntries: true, decodeStrings: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error("no zip"));
      zip.on("entry", (e: yauzl.Entry) => {
        zip.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("no stream"));
          const cs: Buffer[] = [];
          s.on("data", (c: Buffer) => cs.push(c));
          s.on("end", () => {
            out.set(e.fileName, Buffer.concat(cs));
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(out));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

function notebookJson(imageBytes: number): Buffer {
  const png = crypto.randomBytes(imageBytes).toString("base64");
  return Buffer.from(
    JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [{ cell_type: "code", source: ["print('é')\n"] , outputs: [{ output_type: "display_data", data: { "image/png": png } }] }] }),
  );
}

describe("zip writer", () => {
  it("writes what real unzippers read back: JSON deflated, PNG and zip stored, empty files, UTF-8 names, in order", async () => {
    const files: Record<string, Buffer> = {
      "Zoé (2nde 3)/Exercice élève n°1.ipynb": notebookJson(200_000),
      "Zoé (2nde 3)/notes.csv": Buffer.from("Prénom;Note\nZoé;15\n".repeat(500)),
      "Zoé (2nde 3)/images/photo.png": crypto.randomBytes(50_000),
      "Zoé (2nde 3)/archive.ZIP": crypto.randomBytes(10_000),
      "Zoé (2nde 3)/vide.txt": Buffer.alloc(0),
      "Ali/données.bin": crypto.randomBytes(30_000), // incompressible: stored although not a known format
      // Several 1 MiB slices, some code text, some base64: deflated slice by slice into one stream.
      "Ali/gros.ipynb": Buffer.concat([Buffer.from("for i in range(10):\\n    print(i)\\n".repeat(60_000)), notebookJson(2_000_000)]),
    };
    const entries: ZipEntrySource[] = [];
    for (const [name, bytes] of Object.entries(files)) {
      const p = path.join(dir, crypto.randomBytes(4).toString("hex"));
      fs.writeFileSync(p, bytes);
      entries.push({ name, open: () => fileOf(p) });
    }
    const zip = await writeZip(entries);
    unzipTest(zip);
    const info = pyInfo(zip);
    expect(Object.keys(info.entries)).toEqual(Object.keys(files));
    expect(info.entries["Zoé (2nde 3)/Exercice élève n°1.ipynb"]![0]).toBe(8);
    expect(info.entries["Zoé (2nde 3)/notes.csv"]![0]).toBe(8);
    expect(info.entries["Zoé (2nde 3)/notes.csv"]![2]).toBeLessThan(files["Zoé (2nde 3)/notes.csv"]!.length / 10);
    expect(info.entries["Zoé (2nde 3)/images/photo.png"]![0]).toBe(0);
    expect(info.entries["Zoé (2nde 3)/archive.ZIP"]![0]).toBe(0);
    expect(info.entries["Ali/données.bin"]![0]).toBe(0);
    const gros = info.entries["Ali/gros.ipynb"]!;
    expect(gros[1]).toBeGreaterThan(4 * 1024 * 1024);
    // the code compresses (LZ), the base64 to about 3/4 (Huffman): well under the size of the file
    expect(gros[2]).toBeLessThan(gros[1] * 0.6);
    const back = await contents(zip);
    for (const [name, bytes] of Object.entries(files)) expect(back.get(name)?.equals(bytes), name).toBe(true);
  });

  it("streams files over the in-memory size through deflate with a data descriptor, and keeps their time", async () => {
    const big = notebookJson(300_000);
    const p = path.join(dir, "big.ipynb");
    fs.writeFileSync(p, big);
    const when = new Date("2026-03-14T15:09:26Z");
    fs.utimesSync(p, when, when);
    const zip = await writeZip(
      [
        { name: "a/big.ipynb", open: () => fileOf(p) },
        { name: "a/small.txt", open: async () => Buffer.from("petit"), date: when },
        { name: "a/big.png", open: () => fileOf(p) },
      ],
      { maxInMemory: 1024 },
    );
    unzipTest(zip);
    const info = pyInfo(zip);
    expect(info.entries["a/big.ipynb"]![0]).toBe(8);
    expect(info.entries["a/big.png"]![0]).toBe(0);
    const back = await contents(zip);
    expect(back.get("a/big.ipynb")!.equals(big)).toBe(true);
    expect(back.get("a/big.png")!.equals(big)).toBe(true);
    expect(back.get("a/small.txt")!.toString()).toBe("petit");
    // unzip shows the extended (UTC) time: the file's own, not the time of the export.
    const listed = execFileSync("python3", ["-c", "import sys,zipfile;print(zipfile.ZipFile(sys.argv[1]).getinfo('a/big.ipynb').date_time)", zip], { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
    expect(listed).toContain("2026, 3, 14");
  });

  it("writes ZIP64 end records past 65,535 entries", async () => {
    async function* many(): AsyncGenerator<ZipEntrySource> {
      for (let i = 0; i < 70_000; i++) yield { name: `f/${i}.txt`, open: async () => Buffer.from(String(i)), date: new Date() };
    }
    const zip = await writeZip(many(), { window: 64 });
    expect(pyInfo(zip).count).toBe(70_000);
    unzipTest(zip);
  }, 120_000);

  it("leaves out entries whose open resolves null; an open that throws ends the zip with that error", async () => {
    const zip = await writeZip([
      { name: "a.txt", open: async () => Buffer.from("a") },
      { name: "lien.txt", open: async () => null },
      { name: "b.txt", open: async () => Buffer.from("b") },
    ]);
    expect([...(await contents(zip)).keys()]).toEqual(["a.txt", "b.txt"]);
    await expect(
      writeZip([
        { name: "a.txt", open: async () => Buffer.from("a") },
        { name: "b.txt", open: async () => Promise.reject(new Error("disque illisible")) },
      ]),
    ).rejects.toThrow("disque illisible");
  });

  it("prepares a few entries at once, never more than the window, and in order whatever finishes first", async () => {
    let open = 0;
    let most = 0;
    const entries: ZipEntrySource[] = Array.from({ length: 30 }, (_, i) => ({
      name: `e${String(i).padStart(2, "0")}.txt`,
      open: async () => {
        open++;
        most = Math.max(most, open);
        // Later entries are ready first: the writer must still write them in order.
        await new Promise((r) => setTimeout(r, (30 - i) % 7));
        open--;
        return Buffer.from(`entrée ${i}`);
      },
    }));
    const zip = await writeZip(entries, { window: 4 });
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
    const back = await contents(zip);
    expect([...back.keys()]).toEqual(entries.map((e) => e.name));
    expect(back.get("e07.txt")!.toString()).toBe("entrée 7");
  });

  it("a download cancelled midway closes the files opened ahead", async () => {
    const p = path.join(dir, "x.ipynb");
    fs.writeFileSync(p, notebookJson(100_000));
    const opened: Awaited<ReturnType<typeof fileOf>>[] = [];
    async function* endless(): AsyncGenerator<ZipEntrySource> {
      for (let i = 0; ; i++)
        yield {
          name: `x${i}.ipynb`,
          open: async () => {
            const f = await fileOf(p);
            opened.push(f);
            return f;
          },
        };
    }
    const stream: Readable = zipStream(endless(), { window: 3, maxInMemory: 1024 });
    let n = 0;
    for await (const c of stream) {
      n += (c as Buffer).length;
      if (n > 300_000) break; // the reader goes away (for await destroys the stream)
    }
    await new Promise((r) => setTimeout(r, 50));
    expect(opened.length).toBeGreaterThan(1);
    expect(opened.length).toBeLessThan(10);
    for (const f of opened) await expect.poll(() => f.closed()).toBe(true);
  });

  it("knows compressed formats by extension", () => {
    expect(isCompressedFormat("a/b/Photo.JPG")).toBe(true);
    expect(isCompressedFormat("rapport.docx")).toBe(true);
    expect(isCompressedFormat("carnet.ipynb")).toBe(false);
    expect(isCompressedFormat("png")).toBe(false);
    expect(isCompressedFormat(".png")).toBe(false);
  });
});

/**
 * Where the teacher's zip spends its CPU, without the portal: `npx tsx --conditions=react-server bench/zip-parts.ts`
 * (react-server: the zip writer is a server-only module). 40 copies of a 4.8 MB notebook (3.6 MB of random bytes as a
 * base64 PNG, as bench/portal.ts makes them) in a scratch folder; each line: wall and CPU time (the whole process,
 * libuv's thread pool included) of 3 runs. Not a test. docs/operations.md, "Weight".
 */
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { zipStream, type ZipEntrySource } from "../server/copies/zip-writer";
import { listBelow, openStreamBelow } from "../server/files/copy-files";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-zip-parts-"));
const blob = crypto.randomBytes(3_600_000).toString("base64");
const nb = Buffer.from(JSON.stringify({ cells: [{ cell_type: "code", metadata: {}, source: ["x"], outputs: [{ output_type: "display_data", metadata: {}, data: { "image/png": blob } }] }], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
for (let i = 0; i < 40; i++) {
  fs.mkdirSync(path.join(root, `c${i}`), { recursive: true });
  fs.writeFileSync(path.join(root, `c${i}`, "Exercice.ipynb"), nb);
  fs.writeFileSync(path.join(root, `c${i}`, "notes.csv"), "a;b\n1;2\n");
}
async function* entries(streamed = false): AsyncGenerator<ZipEntrySource> {
  for (let i = 0; i < 40; i++) {
    const dir = path.join(root, `c${i}`);
    const { files } = await listBelow(dir, { maxFiles: 1000 });
    for (const f of files)
      yield {
        name: `c${i}/${f.path}`,
        // streamed: the file as a 64 KiB-chunk stream only (how the zip read files before readAll)
        open: async () => {
          const o = await openStreamBelow(dir, f.path);
          return streamed ? { size: o.size, mtime: o.mtime, nodeStream: o.nodeStream, close: o.close } : o;
        },
      };
  }
}
const t = async (label: string, fn: () => Promise<number>) => {
  const xs: number[] = [];
  const cs: number[] = [];
  let n = 0;
  for (let k = 0; k < 3; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    n = await fn();
    const c1 = process.cpuUsage(c0);
    cs.push((c1.user + c1.system) / 1000);
    xs.push(performance.now() - t0);
  }
  console.log(label, "wall", xs.map((x) => x.toFixed(0)).join(" "), "ms; cpu", cs.map((x) => x.toFixed(0)).join(" "), "ms;", (n / 1e6).toFixed(1), "MB");
};
await t("node stream", async () => {
  let n = 0;
  for await (const c of zipStream(entries())) n += (c as Buffer).length;
  return n;
});
await t("node stream, files read as streams", async () => {
  let n = 0;
  for await (const c of zipStream(entries(true))) n += (c as Buffer).length;
  return n;
});
await t("toWeb + Response.arrayBuffer", async () => (await new Response(Readable.toWeb(zipStream(entries())) as ReadableStream).arrayBuffer()).byteLength);
await t("read files only", async () => {
  let n = 0;
  for await (const e of entries()) {
    const f = (await e.open()) as Awaited<ReturnType<typeof openStreamBelow>>;
    for await (const c of f.nodeStream()) n += (c as Buffer).length;
  }
  return n;
});

const one = nb;
await t("crc32 ×40", async () => {
  for (let i = 0; i < 40; i++) (await import("node:zlib")).default.crc32(one);
  return one.length * 40;
});
await t("read files, one read each", async () => {
  let n = 0;
  for (let i = 0; i < 40; i++) {
    const dir = path.join(root, `c${i}`);
    for (const f of ["Exercice.ipynb", "notes.csv"]) {
      const h = await fs.promises.open(path.join(dir, f), "r");
      const st = await h.stat();
      const b = Buffer.allocUnsafe(st.size);
      const { bytesRead } = await h.read(b, 0, st.size, 0);
      n += bytesRead;
      await h.close();
    }
  }
  return n;
});
fs.rmSync(root, { recursive: true, force: true });

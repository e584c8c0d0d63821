/** The history's content-addressed store: chunk boundaries that survive edits, deduplication, damage detected, collection. */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEnv, setEnv } from "../env";
import { chunkBoundaries, collectGarbage, getFile, hasFile, historyRoot, putFile, storeUsage } from "./store";

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-store-"));
  setEnv(parseEnv({ CARNET_DATA_DIR: dir, AUTH_SECRET: "x".repeat(32), CARNET_PROXY_SECRET: "y".repeat(32) }));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const chunks = (b: Buffer) => {
  const out: string[] = [];
  let s = 0;
  for (const e of chunkBoundaries(b)) {
    out.push(crypto.createHash("sha256").update(b.subarray(s, e)).digest("hex"));
    s = e;
  }
  return out;
};

describe("history store", () => {
  it("cuts by content: an insertion in the middle changes only the chunks around it", () => {
    const big = crypto.randomBytes(400_000);
    const edited = Buffer.concat([big.subarray(0, 200_000), Buffer.from("une ligne de plus\n"), big.subarray(200_000)]);
    const a = chunks(big);
    const b = new Set(chunks(edited));
    const changed = a.filter((h) => !b.has(h)).length;
    expect(a.length).toBeGreaterThan(20);
    expect(changed).toBeLessThanOrEqual(2);
    for (const e of chunkBoundaries(big)) expect(e).toBeGreaterThan(0);
    expect(chunkBoundaries(big).at(-1)).toBe(big.length);
    expect(chunkBoundaries(Buffer.alloc(0))).toEqual([]);
  });

  it("stores a file once, gives back its exact bytes, and a second version costs only what changed", async () => {
    const big = Buffer.from(crypto.randomBytes(300_000).toString("base64"));
    const r1 = await putFile(big);
    expect((await getFile(r1.hash)).equals(big)).toBe(true);
    expect((await putFile(big)).storedBytes).toBe(0);
    const v2 = Buffer.concat([big.subarray(0, 100_000), Buffer.from("x = 2\n"), big.subarray(100_000)]);
    const r2 = await putFile(v2);
    expect(r2.storedBytes).toBeLessThan(r1.storedBytes / 5);
    expect((await getFile(r2.hash)).equals(v2)).toBe(true);
    const small = Buffer.from("petit fichier é");
    const r3 = await putFile(small);
    expect((await getFile(r3.hash)).toString()).toBe("petit fichier é");
    expect(await hasFile(r3.hash)).toBe(true);
    expect(await hasFile("0".repeat(64))).toBe(false);
  });

  it("refuses damaged objects and names that are not hashes", async () => {
    const b = Buffer.from(crypto.randomBytes(100_000).toString("hex"));
    const r = await putFile(b);
    const manifest = JSON.parse(fs.readFileSync(path.join(historyRoot(), "files", r.hash.slice(0, 2), `${r.hash.slice(2)}.json`), "utf8")) as { chunks: string[] };
    const victim = path.join(historyRoot(), "chunks", manifest.chunks[1]!.slice(0, 2), manifest.chunks[1]!.slice(2));
    const good = fs.readFileSync(victim);
    fs.writeFileSync(victim, Buffer.from("pas du gzip"));
    await expect(getFile(r.hash)).rejects.toThrow();
    // a chunk that decompresses but is not what its name says
    const { gzipSync } = await import("node:zlib");
    fs.writeFileSync(victim, gzipSync(Buffer.from("autre chose")));
    await expect(getFile(r.hash)).rejects.toThrow(/damaged/);
    fs.writeFileSync(victim, good);
    expect((await getFile(r.hash)).equals(b)).toBe(true);
    await expect(getFile("../../etc/passwd")).rejects.toThrow(/not a file hash/);
    // every object is private to the portal
    expect(fs.statSync(historyRoot()).mode & 0o777).toBe(0o700);
  });

  it("collects what nothing references, keeps what is referenced or young", async () => {
    const keep = await putFile(Buffer.from(crypto.randomBytes(80_000).toString("base64")));
    const drop = await putFile(Buffer.from(crypto.randomBytes(80_000).toString("base64")));
    const young = await collectGarbage(new Set([keep.hash]));
    expect(young.files).toBe(0); // everything is younger than the grace period
    const before = await storeUsage();
    const r = await collectGarbage(new Set([keep.hash]), 0);
    expect(r.files).toBeGreaterThan(0);
    expect(await hasFile(drop.hash)).toBe(false);
    expect(await hasFile(keep.hash)).toBe(true);
    expect((await getFile(keep.hash)).length).toBe(keep.size);
    expect((await storeUsage()).bytes).toBeLessThan(before.bytes);
  });
});

/** The local backend installs exactly jupyter-image/config/ (and data/), what the docker image copies: one source. */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { readdirSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureJupyterConfig, jupyterFiles } from "./jupyter-config";

const dir = path.join(import.meta.dirname, "..", "jupyter-image");

function walk(d: string, prefix: string): string[] {
  return readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

const tmp: string[] = [];
afterAll(async () => {
  for (const t of tmp) await rm(t, { recursive: true, force: true });
});

describe("Carnet's Jupyter configuration", () => {
  it("is every file of jupyter-image/config/ and data/, and nothing else", () => {
    const expected = [...walk(path.join(dir, "config"), "config/"), ...(statSync(path.join(dir, "data"), { throwIfNoEntry: false }) ? walk(path.join(dir, "data"), "data/") : [])].sort();
    expect(Object.keys(jupyterFiles()).sort()).toEqual(expected);
  });

  it("installs them byte for byte, readable by everyone and writable by none, in a folder named by their hash", async () => {
    const state = await mkdtemp(path.join(os.tmpdir(), "carnet-jcfg-"));
    tmp.push(state);
    const { configDir, dataDir } = await ensureJupyterConfig(state);
    for (const [name, content] of Object.entries(jupyterFiles())) {
      const file = path.join(path.dirname(configDir), name);
      expect(await readFile(file, "utf8"), name).toBe(content);
      expect((await stat(file)).mode & 0o777, name).toBe(0o644);
    }
    expect((await stat(dataDir)).isDirectory()).toBe(true);
    // Idempotent: the same folder again.
    expect((await ensureJupyterConfig(state)).configDir).toBe(configDir);
  });
});

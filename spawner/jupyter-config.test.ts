/** The local backend's embedded Jupyter configuration is exactly jupyter-image/config/ (what the docker image uses). */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { JUPYTER_CONFIG_FILES } from "./jupyter-config";

const dir = path.join(import.meta.dirname, "..", "jupyter-image", "config");

function walk(d: string, prefix = ""): string[] {
  return readdirSync(d).flatMap((n) => (statSync(path.join(d, n)).isDirectory() ? walk(path.join(d, n), `${prefix}${n}/`) : [`${prefix}${n}`]));
}

describe("Carnet's Jupyter configuration", () => {
  it("embeds every file of jupyter-image/config/, byte for byte", () => {
    const files = walk(dir).sort();
    expect(Object.keys(JUPYTER_CONFIG_FILES).sort()).toEqual(files);
    for (const f of files) expect(JUPYTER_CONFIG_FILES[f], f).toBe(readFileSync(path.join(dir, f), "utf8"));
  });
});

import { describe, it, expect } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { parseEnv, ConfigError } from "./env";

describe("configuration", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-env-"));

  it("has working defaults: public URL from PORT, internal ports next to it, secrets generated once and kept", () => {
    const e = parseEnv({ CARNET_DATA_DIR: dataDir, PORT: "4100" });
    expect(e.publicUrl).toBe("http://127.0.0.1:4100");
    expect([e.internalPort, e.proxyApiPort]).toEqual([4101, 4102]);
    expect(e.authSecret.length).toBeGreaterThanOrEqual(32);
    expect(parseEnv({ CARNET_DATA_DIR: dataDir }).authSecret).toBe(e.authSecret);
    expect(fs.statSync(path.join(dataDir, "secrets", "auth-secret")).mode & 0o077).toBe(0);
    expect(e.maxNotebookBytes).toBe(20 * 1024 * 1024);
  });

  it("names every bad variable in one French message", () => {
    let err: unknown;
    try {
      parseEnv({ CARNET_DATA_DIR: dataDir, PORT: "quatre", DATABASE_URL: "mysql://x", CARNET_SPAWNER: "k8s", CARNET_PUBLIC_URL: "pas une url" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    for (const v of ["PORT", "DATABASE_URL", "CARNET_SPAWNER", "CARNET_PUBLIC_URL"]) expect(msg).toContain(v);
    expect(msg).toContain("postgresql://");
  });

  it("./carnet stops with that message and exit code 2 on a bad value", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "server/cli/main.ts", "migrate"], {
      cwd: path.resolve(import.meta.dirname, ".."),
      env: { NODE_ENV: "test", PATH: process.env.PATH, CARNET_DATA_DIR: dataDir, CARNET_MAX_NOTEBOOK_MB: "-3" },
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("CARNET_MAX_NOTEBOOK_MB");
  });
});

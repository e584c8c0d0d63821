/**
 * What the live spawner suites (spawner/conformance.test.ts, spawner/kernelspec.test.ts) set up alike: the Docker
 * engine and image they use (or why not), a scratch folder under the portal's umask that students' uids can traverse,
 * every spawner they started stopped at the end, and copy specs with their own uid. Not a test file itself.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect } from "vitest";
import { dockerClient } from "./docker";
import type { BackendName, ExecuteResult, SpawnSpec, Spawner } from "./index";

export const isRoot = process.getuid?.() === 0;
export const dockerHost = process.env.DOCKER_HOST ?? (existsSync("/var/run/docker.sock") ? "unix:///var/run/docker.sock" : undefined);
export const image = process.env.CARNET_IMAGE ?? "carnet-jupyter:latest";

/** Why the docker backend cannot run here (no engine, no image), or null. */
export async function dockerUnavailable(): Promise<string | null> {
  if (!dockerHost) return "no DOCKER_HOST and no /var/run/docker.sock (run scripts/docker-engine.sh build-image)";
  try {
    const docker = dockerClient(dockerHost);
    await docker.ping();
    const img = await docker.getImage(image).inspect().catch(() => null);
    return img ? null : `image ${image} missing on ${dockerHost} (run scripts/docker-engine.sh build-image)`;
  } catch (err) {
    return `Docker engine at ${dockerHost} does not answer: ${(err as Error).message}`;
  }
}

/**
 * The suite's scratch folder and the list of spawners it starts, both cleaned up after the file (afterAll: every
 * spawner stopped by its own state, pid or container id, even after failures; then the folder removed). Sets the
 * portal's own umask (server/data-dir.ts SITE_UMASK): what the spawner writes for students must not depend on a
 * looser one. The folder is 0711: students' uids traverse it to reach their own.
 */
export function spawnerScratch(prefix: string): { base: string; started: Spawner[] } {
  process.umask(0o066);
  const base = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(base, 0o711);
  const started: Spawner[] = [];
  afterAll(async () => {
    await Promise.allSettled(started.map((s) => s.stop(2_000)));
    rmSync(base, { recursive: true, force: true });
  }, 120_000);
  return { base, started };
}

/**
 * Makes copy specs numbered `<idPrefix>1`, `<idPrefix>2`… (one counter per maker), each with its own work folder
 * under `base` and, as root, its own uid `uidBase + n (+ uidOffset)`, as the portal gives every copy.
 */
export function specMaker(o: { base: string; idPrefix: string; uidBase: number; memoryMb: number; tokenFill: string }) {
  let seq = 0;
  return (backend: BackendName, overrides: Partial<SpawnSpec> = {}, uidOffset = 0): SpawnSpec => {
    const id = `${o.idPrefix}${++seq}`;
    const workDir = path.join(o.base, `${backend}-${id}`);
    mkdirSync(workDir, { recursive: true });
    const uid = o.uidBase + seq + uidOffset;
    return { id, baseUrl: `/nb/${id}/`, workDir, token: `tok-${id}-${o.tokenFill.repeat(24)}`, memoryMb: o.memoryMb, cpus: 1, ...(isRoot ? { uid, gid: uid } : {}), ...overrides };
  };
}

/** The cell drew an inline plot: one `image/png` output, and its bytes are a PNG. */
export function expectInlinePng(r: ExecuteResult): void {
  const png = r.data.find((d) => typeof d["image/png"] === "string")?.["image/png"] as string | undefined;
  expect(png, "an inline image/png output").toBeDefined();
  expect(Buffer.from(png!, "base64").subarray(1, 4).toString()).toBe("PNG");
}

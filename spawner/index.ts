/**
 * Carnet's spawner: start, find, watch and stop one Jupyter server per student copy.
 * Contract in types.ts; backends in local.ts and docker.ts; docs in docs/spawner.md.
 */
import { DockerSpawner, listDocker } from "./docker";
import { LocalSpawner, listLocal } from "./local";
export { SameUserRefused } from "./local";
import type { BackendName, BackendOptions, ManagedServer, SpawnSpec, Spawner } from "./types";
import { validateInstanceId } from "./validate";

export * from "./types";
export { waitForReady, lastActivity, request, isUnixUrl, upstreamOf, type WaitForReadyOptions, type Upstream } from "./http";
export { execute, startKernel, jupyterApi, jupyterFetch, type ExecuteResult, type JupyterTarget } from "./kernel-client";

/**
 * Creates the Spawner of one copy on a backend. Does not start anything (call start(), or loadState()
 * to adopt a server that is already running). Throws if the spec or options are malformed.
 */
export function createSpawner(backend: BackendName, spec: SpawnSpec, opts: BackendOptions): Spawner {
  validateInstanceId(opts.instanceId);
  if (backend === "local") return new LocalSpawner(spec, opts);
  if (backend === "docker") return new DockerSpawner(spec, opts);
  throw new Error(`unknown spawner backend ${String(backend)}`);
}

/**
 * Servers that exist for this Carnet instance on a backend (running or exited but not removed), each with
 * a state for `loadState`. At portal start: adopt those the database knows, stop the others (orphans)
 * with `createSpawner(backend, <any spec with that id>, opts)` + `loadState(state)` + `stop()`.
 * Read-only; throws if the backend cannot be reached (docker engine down).
 */
export async function listManaged(backend: BackendName, opts: BackendOptions): Promise<ManagedServer[]> {
  validateInstanceId(opts.instanceId);
  return backend === "local" ? listLocal(opts) : listDocker(opts);
}

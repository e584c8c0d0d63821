/** The spawner and proxy as this portal configures them. */
import path from "node:path";
import { sha256 } from "../ids";
import { env } from "../env";
import { logger } from "../logger";
import type { BackendOptions, BackendName } from "@/spawner";
import { ProxyClient } from "@/proxy/client";

export function backendName(): BackendName {
  return env().CARNET_SPAWNER;
}

/** Instance id: stable per data directory, so that two portals on one host never touch each other's servers. */
export function instanceId(): string {
  return "c" + sha256(env().dataDir).slice(0, 10);
}

export function backendOptions(): BackendOptions {
  const e = env();
  return {
    instanceId: instanceId(),
    stateDir: path.join(e.dataDir, "servers"),
    logger: logger.child({ part: "spawner" }),
    // Without root the local backend cannot give students their own uids: only if the site said so (docs/security.md).
    local: { allowSameUser: e.CARNET_ALLOW_SHARED_UID },
    docker: {
      host: e.CARNET_DOCKER_HOST ?? process.env.DOCKER_HOST,
      image: e.CARNET_JUPYTER_IMAGE,
    },
  };
}

const KEY = Symbol.for("carnet.proxyClient");
type G = typeof globalThis & { [KEY]?: ProxyClient };

export function proxyClient(): ProxyClient {
  const g = globalThis as G;
  return (g[KEY] ??= new ProxyClient({ apiUrl: `http://127.0.0.1:${env().proxyApiPort}`, secret: env().proxySecret, retries: 2 }));
}

/** The notebook's public address, on the copy's own host (server/servers/notebook-origin.ts). */
export { notebookUrl } from "./notebook-origin";

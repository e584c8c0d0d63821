import { z } from "zod";
import { api, readJson } from "@/server/http";
import { MAX_POOL_SIZE, poolDetails, resumePool, setPoolSize } from "@/server/servers/pool";

export const dynamic = "force-dynamic";

/** Admin: the warm pool's counts ({ready, starting, claimed, target}) with its size, what limits it and whether it is paused. */
export const GET = api({ roles: ["ADMIN"] }, async () => poolDetails());

const body = z.object({
  size: z
    .number({ error: `un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu` })
    .int(`un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu`)
    .min(0, `un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu`)
    .max(MAX_POOL_SIZE, `au plus ${MAX_POOL_SIZE}`)
    .optional(),
});

/**
 * Admin: sets the pool size (persisted in the data dir; 0 disables the pool) and resumes a pool paused by
 * `./carnet servers stop-all`; `{}` only resumes. Answers the new counts.
 */
export const PUT = api({ roles: ["ADMIN"] }, async ({ req }) => {
  const { size } = body.parse(await readJson(req));
  if (size === undefined) resumePool();
  else await setPoolSize(size);
  return poolDetails();
});

import { z } from "zod";
import { api, readJson } from "@/server/http";
import { MAX_POOL_SIZE, poolDetails, setPoolSize } from "@/server/servers/pool";

export const dynamic = "force-dynamic";

/** Admin: the warm pool's counts ({ready, starting, claimed, target}) with its size and what limits it. */
export const GET = api({ roles: ["ADMIN"] }, async () => poolDetails());

const body = z.object({
  size: z
    .number({ error: `un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu` })
    .int(`un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu`)
    .min(0, `un nombre entier entre 0 et ${MAX_POOL_SIZE} est attendu`)
    .max(MAX_POOL_SIZE, `au plus ${MAX_POOL_SIZE}`),
});

/** Admin: sets the pool size (persisted in the data dir; 0 disables the pool). Answers the new counts. */
export const PUT = api({ roles: ["ADMIN"] }, async ({ req }) => {
  const { size } = body.parse(await readJson(req));
  await setPoolSize(size);
  return poolDetails();
});

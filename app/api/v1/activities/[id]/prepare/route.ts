import { z } from "zod";
import { api, param, readJson } from "@/server/http";
import { MAX_EXPECTED, prepareSession, prepareStatus } from "@/server/servers/prepare";

export const dynamic = "force-dynamic";

const body = z
  .object({
    count: z
      .number({ message: "count : un nombre entier d'élèves attendus" })
      .int({ message: "count : un nombre entier d'élèves attendus" })
      .min(1, { message: "count : au moins 1 élève" })
      .max(MAX_EXPECTED, { message: `count : au plus ${MAX_EXPECTED} élèves` })
      .optional(),
  })
  .strict();

/**
 * « Préparer la séance »: starts ahead the servers of the students with a copy, asks the warm pool for the others
 * expected (`count`, else what Carnet knows). 202 with what was done; idempotent. The activity's teacher or an admin.
 */
export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const { count } = body.parse(await readJson(req));
  const report = await prepareSession(actor.user, param(params, "id"), { count });
  return Response.json(report, { status: 202 });
});

/** Where the preparation stands (the panel polls it): servers running and starting, prepared ones, the pool. */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ params, actor }) => prepareStatus(actor.user, param(params, "id")));

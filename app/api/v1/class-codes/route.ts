/** GET: the teacher's class codes. POST { label, validMinutes, maxUses }: a new code, returned once in clear. */
import { api } from "@/server/http";
import { createClassCode, listClassCodes } from "@/server/class-codes";

export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ actor }) => ({ classCodes: await listClassCodes(actor.user.id) }));

export const POST = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, actor }) => {
  const body = (await req.json().catch(() => ({}))) as Record<string, unknown>;
  const { code, record } = await createClassCode({ ...(body as object), teacherId: actor.user.id } as Parameters<typeof createClassCode>[0]);
  return Response.json(
    { code, classCode: { id: record.id, label: record.label, expiresAt: record.expiresAt, maxUses: record.maxUses, uses: record.uses } },
    { status: 201 },
  );
});

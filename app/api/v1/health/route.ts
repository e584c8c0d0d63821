import { db, ensureMigrated } from "@/server/db";

export const dynamic = "force-dynamic";

/** 200 when the portal and its database answer, 503 otherwise. */
export async function GET() {
  try {
    await ensureMigrated();
    await db().$queryRaw`SELECT 1`;
    return Response.json({ status: "ok" });
  } catch {
    return Response.json({ status: "error", error: { code: "unavailable", message: "La base de données ne répond pas." } }, { status: 503 });
  }
}

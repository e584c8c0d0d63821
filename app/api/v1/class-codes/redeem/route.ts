/**
 * POST { code, name, password } (anonymous): a student creates their account with a class code, as /classe does.
 * 201 { username, name, classes }. Limits: server/class-codes.ts (only failures count).
 */
import { publicApi, readJson } from "@/server/http";
import { redeemClassCode } from "@/server/class-codes";
import { clientAddress } from "@/server/rate-limit";

export const dynamic = "force-dynamic";

export const POST = publicApi(
  async ({ req }) => {
    const body = await readJson(req);
    const user = await redeemClassCode({ ...(body as { code: string; name: string; password: string }), clientIp: clientAddress(req) });
    return Response.json({ username: user.username, name: user.name, classes: user.classes }, { status: 201 });
  },
  { csrf: false },
);

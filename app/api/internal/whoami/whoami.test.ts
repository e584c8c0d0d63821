/**
 * The proxy's question « who is this? » (app/api/internal/whoami/route.ts), answered from the database each time it
 * is asked (the proxy keeps an answer 5 s, proxy/auth.ts): a token of a disabled user, a revoked or expired token, a
 * session whose version moved are refused at the next question. Real database (PGlite, and PostgreSQL when given).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbKinds, setupTestDb, type TestDb } from "@/server/testing/db";
import { db } from "@/server/db";
import { env } from "@/server/env";
import { createToken, revokeToken } from "@/server/auth/tokens";
import { createUser, setUserDisabled } from "@/server/users";
import { POST } from "./route";

const PASSWORD = "un-mot-de-passe-solide-42";

describe.each(dbKinds)("whoami (%s)", (kind) => {
  let t: TestDb;
  beforeAll(async () => {
    t = await setupTestDb(kind);
  });
  afterAll(async () => t?.close());

  const ask = (body: unknown, secret: string | null = env().proxySecret) =>
    POST(new Request("http://127.0.0.1:39999/api/internal/whoami", { method: "POST", headers: { "content-type": "application/json", ...(secret !== null ? { "x-carnet-proxy-secret": secret } : {}) }, body: JSON.stringify(body) }));

  it("answers a token's user while the token and the user hold; refuses it as soon as either ends", async () => {
    const u = await createUser({ username: "eleve.whoami", role: "STUDENT", password: PASSWORD });
    const { token, id } = await createToken(u.id, "script");
    const ok = await ask({ token });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ userId: u.id });

    // Disabled: refused (the token itself is not revoked); enabled again: answered again.
    await setUserDisabled(u.id, true);
    expect((await ask({ token })).status).toBe(401);
    await setUserDisabled(u.id, false);
    expect((await ask({ token })).status).toBe(200);

    // Expired, then revoked.
    await db().apiToken.update({ where: { id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await ask({ token })).status).toBe(401);
    await db().apiToken.update({ where: { id }, data: { expiresAt: null } });
    expect((await ask({ token })).status).toBe(200);
    await revokeToken(u.id, id);
    expect((await ask({ token })).status).toBe(401);
    expect((await ask({ token: `${token}x` })).status).toBe(401);
  });

  it("answers a notebook session while its user is active at that session version", async () => {
    const u = await createUser({ username: "eleve.session", role: "STUDENT", password: PASSWORD });
    const sv = (await db().user.findUniqueOrThrow({ where: { id: u.id } })).sessionVersion;
    expect((await ask({ session: { userId: u.id, sv } })).status).toBe(200);
    await setUserDisabled(u.id, true); // also moves the version
    expect((await ask({ session: { userId: u.id, sv } })).status).toBe(401);
    await setUserDisabled(u.id, false);
    expect((await ask({ session: { userId: u.id, sv } })).status).toBe(401);
    expect((await ask({ session: { userId: u.id, sv: sv + 2 } })).status).toBe(200);
  });

  it("answers nobody without the proxy's secret", async () => {
    const u = await createUser({ username: "eleve.secret", role: "STUDENT", password: PASSWORD });
    const { token } = await createToken(u.id, "script");
    expect((await ask({ token }, null)).status).toBe(403);
    expect((await ask({ token }, "pas-le-secret")).status).toBe(403);
  });
});

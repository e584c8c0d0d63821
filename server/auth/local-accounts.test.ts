/**
 * A site whose users all come from ENTs turns local accounts off (CARNET_LOCAL_ACCOUNTS=false): the sign-in page
 * has no password form and next-auth refuses a password sign-in, even for an account that exists.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { startStack, type Stack } from "../../e2e/stack";
import { signInCookie } from "../testing/session";

describe("local accounts turned off", () => {
  let on: Stack;
  let off: Stack;
  beforeAll(async () => {
    [on, off] = await Promise.all([startStack(), startStack({ env: { CARNET_LOCAL_ACCOUNTS: "false" } })]);
    for (const s of [on, off]) await s.addUser("eleve", "student", "mot-de-passe-eleve");
  });
  afterAll(async () => {
    for (const s of [on, off]) {
      await s?.stop();
      if (s) fs.rmSync(s.dataDir, { recursive: true, force: true });
    }
  });

  it("keeps the password form and password sign-in when on (the default)", async () => {
    expect(await (await fetch(`${on.url}/connexion`)).text()).toMatch(/type="password"/);
    expect(await signInCookie(on.url, "eleve", "mot-de-passe-eleve")).toMatch(/authjs\.session-token=/);
  });

  it("removes both when off", async () => {
    expect(await (await fetch(`${off.url}/connexion`)).text()).not.toMatch(/type="password"/);
    await expect(signInCookie(off.url, "eleve", "mot-de-passe-eleve")).rejects.toThrow(/sign-in failed/);
  });
});

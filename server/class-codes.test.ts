import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, useDb, ensureMigrated, db } from "./db";
import { createUser, authenticateLocal } from "./users";
import {
  createClassCode, listClassCodeAccounts, listClassCodes, normalizeCode, randomCode, redeemClassCode, resetClassCodePassword, revokeClassCode,
  REDEEM_UNKNOWN_PER_ADDRESS,
} from "./class-codes";

const h = openDb({ pgliteDir: "memory://" });
let teacherId = "";
let otherTeacherId = "";
let ipN = 0;
const ip = () => `10.0.0.${++ipN}`;

beforeAll(async () => {
  useDb(h);
  await ensureMigrated();
  teacherId = (await createUser({ username: "prof", role: "TEACHER", name: "Mme Prof" })).id;
  otherTeacherId = (await createUser({ username: "prof2", role: "TEACHER" })).id;
});
afterAll(() => h.close());

describe("class codes", () => {
  it("generates readable codes", () => {
    const c = randomCode();
    expect(c).toMatch(/^[A-HJ-NP-Z2-9]{5}-[A-HJ-NP-Z2-9]{5}$/);
    expect(normalizeCode(c.toLowerCase().replace("-", " "))).toBe(c.replace("-", ""));
  });

  it("refuses validity outside 1 hour to 2 days and bad max uses", async () => {
    await expect(createClassCode({ teacherId, label: "2nde 3", validMinutes: 30, maxUses: 30 })).rejects.toThrow(/1 heure/);
    await expect(createClassCode({ teacherId, label: "2nde 3", validMinutes: 3000, maxUses: 30 })).rejects.toThrow(/2 jours/);
    await expect(createClassCode({ teacherId, label: "2nde 3", validMinutes: 60, maxUses: 0 })).rejects.toThrow();
  });

  it("lets a student create an account, then the teacher sees it and resets its password", async () => {
    const { code } = await createClassCode({ teacherId, label: "2nde 3", validMinutes: 60, maxUses: 30 });
    const u = await redeemClassCode({ code: code.toLowerCase(), name: "Léa Martin", password: "cahier-de-maths", clientIp: ip() });
    expect(u).toMatchObject({ username: "lea.martin", role: "STUDENT", classes: ["2nde 3"] });
    const u2 = await redeemClassCode({ code, name: "Léa Martin", password: "cahier-de-maths", clientIp: ip() });
    expect(u2.username).toBe("lea.martin2");
    expect(await authenticateLocal("lea.martin", "cahier-de-maths")).not.toBeNull();

    const accounts = await listClassCodeAccounts(teacherId);
    expect(accounts.map((a) => a.username).sort()).toEqual(["lea.martin", "lea.martin2"]);
    expect(await listClassCodeAccounts(otherTeacherId)).toEqual([]);

    await expect(resetClassCodePassword(otherTeacherId, u.id, "nouveau-mot-de-passe")).rejects.toThrow(/introuvable/);
    await resetClassCodePassword(teacherId, u.id, "nouveau-mot-de-passe");
    expect(await authenticateLocal("lea.martin", "nouveau-mot-de-passe")).not.toBeNull();
    expect((await listClassCodes(teacherId))[0]).toMatchObject({ uses: 2, maxUses: 30 });
  });

  it("refuses an expired code", async () => {
    const { code, record } = await createClassCode({ teacherId, label: "1ère 2", validMinutes: 60, maxUses: 5 });
    await db().classCode.update({ where: { id: record.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    await expect(redeemClassCode({ code, name: "Tom Petit", password: "cahier-de-maths", clientIp: ip() })).rejects.toThrow(/expiré/);
  });

  it("refuses a revoked code, only for its owner", async () => {
    const { code, record } = await createClassCode({ teacherId, label: "TG2", validMinutes: 60, maxUses: 5 });
    await expect(revokeClassCode(otherTeacherId, record.id)).rejects.toThrow(/introuvable/);
    await revokeClassCode(teacherId, record.id);
    await expect(redeemClassCode({ code, name: "Tom Petit", password: "cahier-de-maths", clientIp: ip() })).rejects.toThrow(/expiré/);
  });

  it("stops at max uses, even when students race for the last one", async () => {
    const { code } = await createClassCode({ teacherId, label: "3e B", validMinutes: 60, maxUses: 2 });
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((n) => redeemClassCode({ code, name: `Eleve Numero ${n}`, password: "cahier-de-maths", clientIp: ip() })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(2);
  });

  it("gives a use back when the account cannot be created", async () => {
    const { code, record } = await createClassCode({ teacherId, label: "4e A", validMinutes: 60, maxUses: 1 });
    await expect(redeemClassCode({ code, name: "Paul Roux", password: "court", clientIp: ip() })).rejects.toThrow(/8 caractères/);
    expect((await db().classCode.findUnique({ where: { id: record.id } }))?.uses).toBe(0);
  });

  it("rate-limits guessing from one address", async () => {
    const addr = ip();
    for (let i = 0; i < REDEEM_UNKNOWN_PER_ADDRESS; i++)
      await expect(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: "cahier-de-maths", clientIp: addr })).rejects.toThrow(/n'existe pas/);
    await expect(redeemClassCode({ code: randomCode(), name: "Bot Bot", password: "cahier-de-maths", clientIp: addr })).rejects.toThrow(/Trop de tentatives/);
  });
});

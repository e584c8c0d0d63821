import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDb, useDb, ensureMigrated, db } from "../db";
import { classLabel, profileFromAttributes, upsertSsoUser, listUnmapped } from "./users";

const h = openDb({ pgliteDir: "memory://" });
beforeAll(async () => {
  useDb(h);
  await ensureMigrated();
});
afterAll(() => h.close());

describe("SSO profiles", () => {
  it("maps SDET CAS attributes", () => {
    const p = profileFromAttributes("ent", "jdupont", {
      ENTPersonProfils: ["National_ELV"], givenName: ["Léa"], sn: ["Martin"], ENTPersonStructRattachUAI: ["0750001a"],
      ENTEleveClasses: ["0750001A$2NDE3"],
    });
    expect(p).toMatchObject({ subject: "jdupont", name: "Léa Martin", profiles: ["National_ELV"], school: "0750001A", classes: ["2NDE3"] });
  });
  it("maps Edifice userinfo", () => {
    const p = profileFromAttributes("neo", "abc-123", { userId: "abc-123", username: "Léa MARTIN", type: "Student", classNames: ["2nde 3"], uai: ["0750001A"] });
    expect(p).toMatchObject({ name: "Léa MARTIN", profiles: ["Student"], classes: ["2nde 3"], school: "0750001A" });
  });
  it("keeps plain class labels", () => {
    expect(classLabel("Terminale 2")).toBe("Terminale 2");
    expect(classLabel("0750001A$TG2$2025")).toBe("TG2");
  });
});

describe("upsertSsoUser", () => {
  it("keys users by (provider, subject) and refreshes the profile", async () => {
    const a = await upsertSsoUser(profileFromAttributes("ent-a", "jdupont", { ENTPersonProfils: "National_ENS", displayName: "J. Dupont" }));
    const b = await upsertSsoUser(profileFromAttributes("ent-b", "jdupont", { ENTPersonProfils: "National_ELV", displayName: "Jules Dupont" }));
    expect(a.id).not.toBe(b.id);
    expect(a.role).toBe("TEACHER");
    expect(b.role).toBe("STUDENT");
    const a2 = await upsertSsoUser(
      profileFromAttributes("ent-a", "jdupont", { ENTPersonProfils: "National_ENS", displayName: "Jeanne Dupont", ENTAuxEnsClasses: ["0750001A$1ERE2"] }),
    );
    expect(a2.id).toBe(a.id);
    expect(a2.name).toBe("Jeanne Dupont");
    expect(a2.classes).toEqual(["1ERE2"]);
    expect(await db().identity.count({ where: { subject: "jdupont" } })).toBe(2);
  });
  it("makes an unknown profile a student and records it", async () => {
    const u = await upsertSsoUser(profileFromAttributes("ent-a", "x1", { ENTPersonProfils: "National_COL" }));
    expect(u.role).toBe("STUDENT");
    await upsertSsoUser(profileFromAttributes("ent-a", "x2", { ENTPersonProfils: "National_COL" }));
    const rows = await listUnmapped();
    expect(rows.find((r) => r.value === "National_COL")).toMatchObject({ provider: "ent-a", count: 2 });
  });
  it("keeps a local ADMIN an ADMIN and refuses a disabled user", async () => {
    const u = await upsertSsoUser(profileFromAttributes("ent-a", "boss", { ENTPersonProfils: "National_ENS" }));
    await db().user.update({ where: { id: u.id }, data: { role: "ADMIN" } });
    expect((await upsertSsoUser(profileFromAttributes("ent-a", "boss", { ENTPersonProfils: "National_ELV" }))).role).toBe("ADMIN");
    await db().user.update({ where: { id: u.id }, data: { disabled: true } });
    await expect(upsertSsoUser(profileFromAttributes("ent-a", "boss", {}))).rejects.toThrow(/désactivé/);
  });
  it("survives two first sign-ins at once", async () => {
    const p = profileFromAttributes("ent-a", "twin", { ENTPersonProfils: "National_ELV" });
    const [x, y] = await Promise.all([upsertSsoUser(p), upsertSsoUser(p)]);
    expect(x.id).toBe(y.id);
  });
});

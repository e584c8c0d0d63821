/**
 * The portal's half of the notebook hand-over, on the real databases: who gets a one-time code for a copy, and
 * which codes the proxy may spend (once, within 60 s, for that copy, while the user's session version holds).
 * Also CARNET_NOTEBOOK_URL's validation and the addresses the portal gives.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { stageUpload } from "../testing/upload";
import { createUser, setUserDisabled } from "../users";
import { createActivity } from "../activities/create-activity";
import { openCopy } from "../copies/open-copy";
import { endAllSessions } from "../auth/session-version";
import { ConfigError, parseEnv } from "../env";
import { CODE_TTL_MS, mintNotebookCode, redeemNotebookCode } from "./notebook-handoff";
import { notebookBaseUrl, notebookUrl } from "./notebook-origin";
import { hostLabel } from "@/proxy/hosts";

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });

describe.each(dbKinds)("notebook hand-over codes on %s", (kind) => {
  let t: TestDb;
  let copyId: string;
  let otherCopy: string;
  let users: Record<"prof" | "alice" | "bob" | "admin" | "other", Awaited<ReturnType<typeof createUser>>>;

  beforeAll(async () => {
    t = await setupTestDb(kind);
    users = {
      prof: await createUser({ username: "prof", role: "TEACHER" }),
      alice: await createUser({ username: "alice", role: "STUDENT" }),
      bob: await createUser({ username: "bob", role: "STUDENT" }),
      admin: await createUser({ username: "admin", role: "ADMIN" }),
      other: await createUser({ username: "autre-prof", role: "TEACHER" }),
    };
    const a = await createActivity({ owner: users.prof, upload: stageUpload({ "devoir.ipynb": NB }, "devoir.ipynb") });
    copyId = (await openCopy(users.alice, a.code)).copy.id;
    otherCopy = (await openCopy(users.bob, a.code)).copy.id;
  });
  afterAll(async () => {
    vi.useRealTimers();
    await t.close();
  });

  it("the copy's student and the activity's teacher get a code; another student, another teacher and an admin do not", async () => {
    for (const who of ["alice", "prof"] as const) expect(await mintNotebookCode(users[who], copyId)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    for (const who of ["bob", "other", "admin"] as const) {
      await expect(mintNotebookCode(users[who], copyId)).rejects.toMatchObject({ code: "not_found" });
    }
    await expect(mintNotebookCode(users.alice, "no-such-copy")).rejects.toMatchObject({ code: "not_found" });
  });

  it("a code is spent once, only for its copy, and says who and which session version", async () => {
    const code = await mintNotebookCode(users.prof, copyId);
    // The teacher's code also names whose copy it is (the read-only bar in Jupyter); never « edit » unless asked.
    expect(await redeemNotebookCode(code, copyId)).toEqual({ userId: users.prof.id, copyId, sessionVersion: expect.any(Number), studentName: expect.any(String) });
    expect(await redeemNotebookCode(code, copyId)).toBeNull(); // replayed
    const wrong = await mintNotebookCode(users.prof, otherCopy);
    expect(await redeemNotebookCode(wrong, copyId)).toBeNull(); // minted for another copy...
    expect(await redeemNotebookCode(wrong, otherCopy)).toBeNull(); // ...and burnt by the failed try
    expect(await redeemNotebookCode("x".repeat(43), copyId)).toBeNull();
  });

  it("« Modifier quand même »: edit is kept for the activity's teacher only, bound to that one code and copy", async () => {
    const teacher = await mintNotebookCode(users.prof, copyId, { edit: true });
    expect(await redeemNotebookCode(teacher, copyId)).toMatchObject({ userId: users.prof.id, edit: true });
    expect(await redeemNotebookCode(teacher, copyId)).toBeNull(); // a hand-over is not replayed
    // The student asking for it changes nothing (their session is never read-only), nor names anyone.
    const student = await mintNotebookCode(users.alice, copyId, { edit: true });
    expect(await redeemNotebookCode(student, copyId)).toEqual({ userId: users.alice.id, copyId, sessionVersion: expect.any(Number) });
    // Another teacher gets no code at all; an edit code minted for one copy opens no other.
    await expect(mintNotebookCode(users.other, copyId, { edit: true })).rejects.toMatchObject({ code: "not_found" });
    const forOther = await mintNotebookCode(users.prof, otherCopy, { edit: true });
    expect(await redeemNotebookCode(forOther, copyId)).toBeNull();
    // Without the flag the teacher's session is read-only (no edit in the answer).
    const plain = await mintNotebookCode(users.prof, copyId);
    expect(await redeemNotebookCode(plain, copyId)).not.toHaveProperty("edit");
  });

  it("a code expires after 60 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const code = await mintNotebookCode(users.alice, copyId);
      vi.setSystemTime(Date.now() + CODE_TTL_MS + 1);
      expect(await redeemNotebookCode(code, copyId)).toBeNull();
      const fresh = await mintNotebookCode(users.alice, copyId);
      vi.setSystemTime(Date.now() + CODE_TTL_MS - 1_000);
      expect(await redeemNotebookCode(fresh, copyId)).not.toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("ending the user's sessions (sign-out everywhere, reset, disabling) voids codes minted before", async () => {
    const code = await mintNotebookCode(users.alice, copyId);
    await endAllSessions(users.alice.id);
    expect(await redeemNotebookCode(code, copyId)).toBeNull();
    const code2 = await mintNotebookCode(users.alice, copyId);
    await setUserDisabled(users.alice.id, true);
    expect(await redeemNotebookCode(code2, copyId)).toBeNull();
    await expect(mintNotebookCode(users.alice, copyId)).rejects.toMatchObject({ code: "unauthenticated" });
    await setUserDisabled(users.alice.id, false);
  });

  it("the notebook's addresses are on the copy's own host", () => {
    expect(notebookBaseUrl(copyId)).toBe(`http://${hostLabel(copyId)}.nb.localhost:39999/nb/${copyId}/`);
    expect(notebookUrl(copyId, "dossier/l'été #1.ipynb")).toBe(`${notebookBaseUrl(copyId)}notebooks/dossier/l'%C3%A9t%C3%A9%20%231.ipynb`);
  });
});

describe("CARNET_NOTEBOOK_URL", () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-nburl-"));
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const parse = (extra: Record<string, string>) => parseEnv({ CARNET_DATA_DIR: dataDir, ...extra });

  it("defaults to <label>.nb.localhost:<port> on a loopback public URL, as ./carnet start uses", () => {
    expect(parse({ PORT: "4100" }).notebookSite).toEqual({ kind: "subdomain", protocol: "http:", domain: "nb.localhost", port: "4100" });
    expect(parse({ CARNET_PUBLIC_URL: "http://localhost:5000" }).notebookSite).toMatchObject({ domain: "nb.localhost", port: "5000" });
  });

  it("is required on a public site, and a bad value stops the portal with a French message", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr" }, /CARNET_NOTEBOOK_URL: obligatoire/],
      [{ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "nb.carnet.fr" }, /doit être une URL/],
      [{ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "http://nb.carnet.fr" }, /https/],
      [{ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "https://nb.carnet.fr/x" }, /sans chemin/],
      [{ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "https://carnet.ac-paris.fr" }, /autre domaine/],
    ];
    for (const [env, message] of cases) {
      let err: unknown;
      try {
        parse(env);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(env)).toBeInstanceOf(ConfigError);
      expect((err as Error).message).toMatch(message);
    }
    expect(parse({ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "https://nb.carnet-lycees.fr" }).notebookSite).toMatchObject({
      domain: "nb.carnet-lycees.fr",
    });
    expect(parse({ CARNET_PUBLIC_URL: "https://carnet.ac-paris.fr", CARNET_NOTEBOOK_URL: "same-origin" }).notebookSite.kind).toBe("same-origin");
  });
});

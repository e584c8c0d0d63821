/**
 * server/servers/stop-notice.ts on the real databases, against a recording stand-in of the proxy's route API: what
 * the student's page is told before each kind of stop, and the deadline's pre-notices (T − 60 s « Plus qu'une
 * minute », T − 10 s save with the write cut-off at T), once each, for the students' running copies only (not the
 * teacher's test copy, not open activities). The proxy's side (waiting for the pages' saves) is proxy/carnet-events.test.ts.
 * Run: npx vitest run server/servers/stop-notice.test.ts
 */
import http from "node:http";
import crypto from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbKinds, setupTestDb, type TestDb } from "../testing/db";
import { stageUpload } from "../testing/upload";
import { createUser } from "../users";
import { createActivity } from "../activities/create-activity";
import { openCopy } from "../copies/open-copy";
import { db } from "../db";
import { newId } from "../ids";
import { deadlinePreNotices, minutes, noticeStop, SAVE_BEFORE_MS, stopNoticeFor, WARN_BEFORE_MS } from "./stop-notice";

const NB = JSON.stringify({ nbformat: 4, nbformat_minor: 5, metadata: {}, cells: [] });
const SECRET = crypto.randomBytes(32).toString("base64url");

interface Seen {
  prefix: string;
  auth: string;
  body: { kind: string; phase: string; message: string; waitMs?: number; cutoffAt?: string };
}

// One stand-in for every database kind: the portal's proxy client is made once per process (server/servers/config.ts).
let api: http.Server;
let apiPort = 0;
const seen: Seen[] = [];
beforeAll(async () => {
  api = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      seen.push({ prefix: decodeURIComponent((req.url ?? "").replace("/api/notices/", "")), auth: req.headers.authorization ?? "", body: JSON.parse(body) as Seen["body"] });
      res.writeHead(200, { "content-type": "application/json" }).end('{"pages":0,"saved":0,"waitedMs":0}');
    });
  });
  await new Promise<void>((r) => api.listen(0, "127.0.0.1", () => r()));
  apiPort = (api.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => api.close(r));
});

describe.each(dbKinds)("stop notices on %s", (kind) => {
  let t: TestDb;

  beforeAll(async () => {
    t = await setupTestDb(kind, { CARNET_PROXY_API_PORT: String(apiPort), CARNET_PROXY_SECRET: SECRET, CARNET_IDLE_TIMEOUT_MIN: "45" });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("says in French why the server stops, and asks for a save only while the server still runs", () => {
    expect(stopNoticeFor("teacher")).toEqual({ kind: "teacher", save: true, message: "Votre professeur a arrêté votre carnet." });
    expect(stopNoticeFor("idle")).toMatchObject({ save: true, message: "Carnet arrêté après 45 minutes sans activité." });
    expect(stopNoticeFor("over quota")).toMatchObject({ kind: "quota", save: true, message: expect.stringMatching(/^Espace disque dépassé/) });
    expect(stopNoticeFor("stopped by admin u1")).toMatchObject({ kind: "admin", save: true });
    expect(stopNoticeFor("hand-in")).toMatchObject({ save: true });
    // At the deadline itself a save would be after it: told only.
    expect(stopNoticeFor("deadline")).toEqual({ kind: "deadline", save: false, message: "L'heure de rendu est passée : votre copie a été rendue." });
    expect(stopNoticeFor("oom")).toMatchObject({ save: false });
    expect(stopNoticeFor("stale start")).toBeNull();
    expect([minutes(60), minutes(1), minutes(1.5), minutes(0.2)]).toEqual(["60 minutes", "1 minute", "1,5 minute", "12 secondes"]);
  });

  it("noticeStop sends the notice with the secret and waits 5 s at most; a proxy that does not answer does not stop the stop", async () => {
    seen.length = 0;
    await noticeStop("copieX", "teacher");
    expect(seen).toEqual([{ prefix: "/nb/copieX/", auth: `Bearer ${SECRET}`, body: { kind: "teacher", phase: "save", message: "Votre professeur a arrêté votre carnet.", waitMs: 5_000 } }]);
    await noticeStop("copieX", "deadline");
    expect(seen[1]!.body).toEqual({ kind: "deadline", phase: "stopped", message: "L'heure de rendu est passée : votre copie a été rendue." });
    await noticeStop("copieX", "stale start");
    expect(seen).toHaveLength(2);
  });

  it("the deadline: « Plus qu'une minute » at T − 60 s, the save with the cut-off at T − 10 s, once each, students' running copies only", async () => {
    const owner = await createUser({ username: `prof-${kind}`, role: "TEACHER" });
    const alice = await createUser({ username: `alice-${kind}`, role: "STUDENT" });
    const bob = await createUser({ username: `bob-${kind}`, role: "STUDENT" });
    const a = await createActivity({ owner, upload: stageUpload({ "devoir.ipynb": NB }, "devoir.ipynb", "Devoir") });
    const open = await createActivity({ owner, upload: stageUpload({ "devoir.ipynb": NB }, "devoir.ipynb", "Sans restriction") });
    const running = (await openCopy(alice, a.code)).copy.id;
    const notRunning = (await openCopy(bob, a.code)).copy.id;
    const testCopy = (await openCopy(owner, a.code)).copy.id; // « Aperçu élève »: the owner's own copy
    const openCopyId = (await openCopy(alice, open.code)).copy.id;
    for (const copyId of [running, testCopy, openCopyId])
      await db().jupyterServer.create({ data: { id: newId(), copyId, backend: "local", status: "running", token: "t" } });
    const closesAt = new Date(Date.now() + 3_600_000);
    await db().activity.update({ where: { id: a.id }, data: { closesAt, accessMode: "readonly" } });
    await db().activity.update({ where: { id: open.id }, data: { closesAt, accessMode: "open" } });
    const at = (msBefore: number) => new Date(closesAt.getTime() - msBefore);
    // The notices go out in the background: wait for the count, or a while for "nothing more".
    const count = (n: number) => expect.poll(() => seen.length, { timeout: 10_000 }).toBe(n);
    const settle = () => new Promise((r) => setTimeout(r, 1_000));
    seen.length = 0;

    // 70 s before: nothing yet; wake up in 10 s for the warning.
    expect(await deadlinePreNotices(at(70_000))).toBe(70_000 - WARN_BEFORE_MS);
    await settle();
    expect(seen).toHaveLength(0);
    // 55 s before: the warning, to the running student copy only; next: the save at T − 10 s.
    expect(await deadlinePreNotices(at(55_000))).toBe(55_000 - SAVE_BEFORE_MS);
    await count(1);
    expect(seen.map((s) => s.prefix)).toEqual([`/nb/${running}/`]);
    expect(seen[0]!.body).toMatchObject({ kind: "deadline", phase: "warn", message: expect.stringMatching(/^Plus qu'une minute avant l'heure de rendu \(\d\d:\d\d\)/) });
    // Again: not twice.
    await deadlinePreNotices(at(40_000));
    await settle();
    expect(seen).toHaveLength(1);
    // 9 s before: the save, the proxy refuses writes from the deadline on; nothing more to plan.
    expect(await deadlinePreNotices(at(9_000))).toBeNull();
    await count(2);
    expect(seen[1]).toMatchObject({ prefix: `/nb/${running}/`, body: { kind: "deadline", phase: "save", cutoffAt: closesAt.toISOString() } });
    expect(seen[1]!.body.waitMs).toBeLessThanOrEqual(5_000);
    await deadlinePreNotices(at(5_000));
    await settle();
    expect(seen).toHaveLength(2);
    expect(seen.some((s) => s.prefix.includes(notRunning) || s.prefix.includes(testCopy) || s.prefix.includes(openCopyId))).toBe(false);
    // A deadline moved later is a new deadline: warned again when its minute comes.
    const later = new Date(closesAt.getTime() + 600_000);
    await db().activity.update({ where: { id: a.id }, data: { closesAt: later } });
    await deadlinePreNotices(new Date(later.getTime() - 50_000));
    await count(3);
    expect(seen[2]!.body.phase).toBe("warn");
  });
});

/**
 * The start queue in the real portal (local backend, real Jupyter), one start at a time (CARNET_START_CONCURRENCY=1):
 * three students arriving together are told their place in French, in the order they arrived, and all get a
 * server; one who leaves while waiting (server stopped) never starts, and the others still do. A second POST for a
 * waiting copy keeps its place. Behaviour only: no timing is asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import { createActivity, openCopy, PASSWORD, serverApi, serverStatus, teardown, waitFor } from "./live-test-helpers";

interface Queued {
  status: string;
  message: string | null;
  queue: { position: number; etaS: number | null } | null;
}

describe("live servers: the start queue", () => {
  let stack: Stack;
  const pats: Record<string, string> = {};
  const students = ["alice", "bruno", "chloe", "dina", "emma"];
  beforeAll(async () => {
    stack = await startStack({ env: { CARNET_START_CONCURRENCY: "1" } });
    await stack.addUser("prof", "teacher", PASSWORD);
    pats.prof = await stack.token("prof");
    for (const s of students) {
      await stack.addUser(s, "student", PASSWORD);
      pats[s] = await stack.token(s);
    }
  }, 120_000);
  afterAll(async () => teardown(stack, pats.prof));

  const post = (who: string, copy: string) => fetch(serverApi(stack, copy), { method: "POST", headers: { authorization: `Bearer ${pats[who]}` } });
  const status = async (who: string, copy: string) => (await serverStatus(stack, pats[who]!, copy)) as unknown as Queued;

  it("tells students their place in arrival order, lets a waiting one leave, and starts everyone else", async () => {
    const { code } = await createActivity(stack, pats.prof!);
    const copies: Record<string, string> = {};
    for (const s of students) copies[s] = await openCopy(stack, pats[s]!, code);
    // One after the other, as a class clicking: the first starts, the others wait behind it in that order.
    for (const s of students) expect((await post(s, copies[s]!)).status).toBe(202);
    const seen = await Promise.all(students.map((s) => status(s, copies[s]!)));
    // A start takes a second or more: the last three are still waiting, whatever happened to the first two.
    const waiting = seen.filter((p) => p.queue);
    expect(waiting.length).toBeGreaterThanOrEqual(3);
    expect(seen.slice(-3).every((p) => p.status === "starting" && p.queue)).toBe(true);
    // Places follow arrival order, from 1, with no gap; each message says its place.
    expect(waiting.map((p) => p.queue!.position)).toEqual(waiting.map((_, i) => i + 1));
    expect(seen.indexOf(waiting[0]!)).toBe(students.length - waiting.length);
    for (const p of waiting)
      expect(p.message).toMatch(p.queue!.position === 1 ? /^Votre carnet est le prochain à démarrer/ : new RegExp(`^Vous êtes ${p.queue!.position}e dans la file`));
    // Clicking again (another tab) keeps the place: it does not go to the back.
    const emmaBefore = seen[4]!.queue!.position;
    expect((await post("emma", copies.emma!)).status).toBe(202);
    const emmaAgain = (await status("emma", copies.emma!)).queue;
    expect(emmaAgain && emmaAgain.position <= emmaBefore).toBe(true);
    // Dina leaves while waiting: her server never starts, and Emma moves up.
    const del = await fetch(serverApi(stack, copies.dina!), { method: "DELETE", headers: { authorization: `Bearer ${pats.dina}` } });
    expect(del.status).toBe(200);
    expect((await status("dina", copies.dina!)).status).toBe("stopped");
    const emmaAfter = (await status("emma", copies.emma!)).queue;
    expect(emmaAfter === null || emmaAfter.position < emmaAgain!.position).toBe(true);
    // Everyone else gets their server.
    for (const s of ["alice", "bruno", "chloe", "emma"])
      await waitFor(
        `${s}'s server running`,
        async () => {
          const st = await status(s, copies[s]!);
          if (st.status === "stopped") throw new Error(`${s}: start failed`);
          return st.status === "running";
        },
        120_000,
      );
    expect((await status("dina", copies.dina!)).status).toBe("stopped");
  }, 240_000);
});

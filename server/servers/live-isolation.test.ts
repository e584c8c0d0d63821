/**
 * Isolation of live servers, against the real stack (proxy + Next.js production build + real Jupyter):
 * another student gets 404 on a student's server over HTTP and over the kernel WebSocket (and the portal hands them
 * no session for it), the activity's teacher gets in, and a WebSocket upgrade carrying the student's own notebook
 * cookie but a foreign Origin (the portal's included) is refused: another page must not run code in a student's kernel.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import {
  createActivity,
  kernelWsUrl,
  KernelSocket,
  loopFetch,
  nbUrl,
  notebookCookie,
  notebookOrigin,
  openCopy,
  PASSWORD,
  sessionCookie,
  startKernel,
  startServer,
  teardown,
  tryUpgrade,
} from "./live-test-helpers";

describe("live servers: who gets in", () => {
  let stack: Stack;
  let pats: Record<"prof" | "alice" | "bob", string>;
  let copyId: string;
  let kernelId: string;

  beforeAll(async () => {
    stack = await startStack();
    await stack.addUser("prof", "teacher", PASSWORD, "Marie Durand");
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
    await stack.addUser("bob", "student", PASSWORD, "Bob Léger", "2nde 3");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice"), bob: await stack.token("bob") };
    const activity = await createActivity(stack, pats.prof);
    copyId = await openCopy(stack, pats.alice, activity.code);
    await openCopy(stack, pats.bob, activity.code); // Bob has a copy of his own: he is a member of the activity.
    await startServer(stack, pats.alice, copyId);
    kernelId = await startKernel(stack, pats.alice, copyId);
  });

  afterAll(async () => {
    await teardown(stack, pats?.prof);
  });

  const contents = () => nbUrl(stack, copyId, "api/contents");

  it("the student and the teacher reach the server over HTTP at the address the API gives, another student gets 404", async () => {
    const status = (await (await fetch(`${stack.url}/api/v1/copies/${copyId}/server`, { headers: { authorization: `Bearer ${pats.alice}` } })).json()) as { baseUrl: string; url: string };
    expect(status.baseUrl).toBe(nbUrl(stack, copyId));
    expect(status.url.startsWith(status.baseUrl)).toBe(true);
    expect((await loopFetch(contents(), { headers: { authorization: `Bearer ${pats.alice}` } })).status).toBe(200);
    expect((await loopFetch(contents(), { headers: { authorization: `Bearer ${pats.prof}` } })).status).toBe(200);
    const bob = await loopFetch(contents(), { headers: { authorization: `Bearer ${pats.bob}` } });
    expect(bob.status).toBe(404);
    expect(await bob.text()).not.toContain("ipynb");
    // Bob's portal session opens nothing on the copy's host, and the portal hands him no notebook session for it.
    const bobCookie = await sessionCookie(stack, "bob");
    expect((await loopFetch(contents(), { headers: { cookie: bobCookie } })).status).toBe(401);
    await expect(notebookCookie(stack, "bob", copyId)).rejects.toThrow(/portal refused/);
    expect((await fetch(`${stack.url}/api/v1/copies/${copyId}/server`, { headers: { authorization: `Bearer ${pats.bob}` } })).status).toBe(404);
    // Anonymous: sent to sign in, nothing from Jupyter.
    const anon = await loopFetch(contents());
    expect([302, 303, 307, 401, 404]).toContain(anon.status);
    // The old address on the portal's host serves nothing any more: GETs are sent to the copy's host, the rest refused.
    const old = await fetch(`${stack.url}/nb/${copyId}/api/contents`, { headers: { authorization: `Bearer ${pats.alice}` }, redirect: "manual" });
    expect(old.status).toBe(302);
    expect(old.headers.get("location")).toBe(contents());
    const oldPut = await fetch(`${stack.url}/nb/${copyId}/api/contents/x.txt`, { method: "PUT", headers: { authorization: `Bearer ${pats.alice}` }, body: "{}" });
    expect(oldPut.status).toBe(421);
  });

  it("another student gets 404 on the kernel WebSocket; the student runs code, the teacher only after « Modifier quand même »", async () => {
    const url = kernelWsUrl(stack, copyId, kernelId);
    const origin = notebookOrigin(stack, copyId);
    expect(await tryUpgrade(url, { authorization: `Bearer ${pats.bob}` })).toBe(404);
    const bobCookie = await sessionCookie(stack, "bob");
    expect(await tryUpgrade(url, { cookie: bobCookie, origin })).toBe(401);

    // The teacher's live view is read-only by default: running code in the student's kernel is writing.
    const readOnly = await notebookCookie(stack, "prof", copyId);
    expect(await tryUpgrade(url, { cookie: readOnly, origin })).toBe(403);

    for (const [who, edit] of [["alice", false], ["prof", true]] as const) {
      const cookie = await notebookCookie(stack, who, copyId, undefined, { edit });
      const k = await KernelSocket.open(url, { cookie, origin });
      const r = await k.execute("print(6 * 7)");
      k.close();
      expect(r).toMatchObject({ status: "ok", text: "42\n" });
    }
  });

  it("a WebSocket upgrade with the student's cookie from a foreign Origin is refused", async () => {
    const url = kernelWsUrl(stack, copyId, kernelId);
    const origin = notebookOrigin(stack, copyId);
    const cookie = await notebookCookie(stack, "alice", copyId);
    expect(await tryUpgrade(url, { cookie, origin: "https://evil.example" })).toBe(403);
    expect(await tryUpgrade(url, { cookie, origin: stack.url })).toBe(403); // the portal's own pages neither
    expect(await tryUpgrade(url, { cookie, origin: "null" })).toBe(403);
    expect(await tryUpgrade(url, { cookie })).toBe(403); // no Origin at all
    // Same origin with the same cookie: accepted (the refusal above is about the Origin, not the cookie).
    expect(await tryUpgrade(url, { cookie, origin })).toBe("open");
    // And a forged state-changing HTTP request (start a kernel) is refused the same way.
    const forged = await loopFetch(nbUrl(stack, copyId, "api/kernels"), {
      method: "POST",
      headers: { cookie, origin: "https://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ name: "python3" }),
    });
    expect(forged.status).toBe(403);
  });
});

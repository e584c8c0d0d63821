/**
 * e2e/stack.ts (the real portal that e2e specs and the live vitest suites start): it picks free ports, and the
 * portal's children bind them seconds later. A port taken in between (EADDRINUSE in a CI dry run) must neither fail
 * the run nor, worse, leave the tests talking to whoever took the port. Played here as the worst case: an impostor
 * that answers the health check on the public port the stack picked.
 * Needs a production build: CARNET_NEXT_DIST_DIR=.next-x flock /tmp/carnet-heavy.lock npx vitest run server/testing/stack.test.ts
 */
import http from "node:http";
import type net from "node:net";
import { afterAll, expect, it } from "vitest";
import { startStack, stackPort, type Stack } from "@/e2e/stack";
import { PASSWORD, sessionCookie } from "@/server/servers/live-test-helpers";

let impostor: http.Server | undefined;
let stack: Stack | undefined;

afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => (impostor ? impostor.close(r) : r(undefined)));
});

it("the public port is taken (by a server answering /api/v1/health) before the proxy binds it: the stack comes up on new ports, and it is its own", async () => {
  impostor = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ impostor: true }));
  });
  await new Promise<void>((r) => impostor!.listen(0, "127.0.0.1", r));
  const taken = (impostor.address() as net.AddressInfo).port;
  let picks = 0;
  stack = await startStack({
    env: { CARNET_SPAWNER: "local" },
    // The first pick is the taken port (as if another process bound it right after the check), then stackPort().
    ports: async () => (picks++ === 0 ? [taken, await stackPort(), await stackPort()] : [await stackPort(), await stackPort(), await stackPort()]),
  });
  expect(stack.port).not.toBe(taken);
  expect(stack.url).toBe(`http://127.0.0.1:${stack.port}`);
  const health = await fetch(`${stack.url}/api/v1/health`);
  expect(health.ok).toBe(true);
  expect(await health.text()).not.toContain("impostor");
  // The CLI reaches this portal (its internal port), and the account it made signs in through the public port.
  await stack.addUser("eleve_ports", "student", PASSWORD, "Élève Ports");
  const cookie = await sessionCookie(stack, "eleve_ports");
  const session = (await (await fetch(`${stack.url}/api/auth/session`, { headers: { cookie } })).json()) as { user?: { name?: string } } | null;
  expect(session?.user?.name).toBe("Élève Ports");
  // The impostor still has its port, untouched.
  expect(await (await fetch(`http://127.0.0.1:${taken}/api/v1/health`)).text()).toContain("impostor");
}, 300_000);

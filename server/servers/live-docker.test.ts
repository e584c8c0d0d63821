/**
 * The Docker backend as the portal configures it, against the real stack and a real Docker engine: the site's shared
 * data folder is mounted read-only, a student's container has no network unless the teacher allows it for the
 * activity, and then it has. Skipped loudly when no engine is reachable (`./carnet test` starts one).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import { createActivity, kernelWsUrl, KernelSocket, openCopy, PASSWORD, startKernel, startServer, teardown } from "./live-test-helpers";

const dockerHost = process.env.DOCKER_HOST;
if (!dockerHost) console.warn("*** SKIPPED: live Docker wiring tests: no DOCKER_HOST (start an engine with scripts/docker-engine.sh start) ***");

describe.skipIf(!dockerHost)("live servers on Docker: shared data and network per activity", () => {
  let stack: Stack;
  let pats: Record<string, string>;
  const shared = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-shared-"));

  beforeAll(async () => {
    fs.writeFileSync(path.join(shared, "météo.csv"), "ville;température\nLyon;21\n");
    fs.chmodSync(shared, 0o755);
    fs.chmodSync(path.join(shared, "météo.csv"), 0o644);
    stack = await startStack({ env: { CARNET_SPAWNER: "docker", DOCKER_HOST: dockerHost!, CARNET_SHARED_DATA_DIR: shared } });
    await stack.addUser("prof", "teacher", PASSWORD);
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice") };
  });
  afterAll(async () => {
    await teardown(stack, pats?.prof);
    fs.rmSync(shared, { recursive: true, force: true });
  });

  async function run(copy: string, code: string) {
    const kernel = await startKernel(stack, pats.alice!, copy);
    const ws = await KernelSocket.open(kernelWsUrl(stack, copy, kernel), { authorization: `Bearer ${pats.alice}` });
    try {
      return await ws.execute(code);
    } finally {
      ws.close();
    }
  }

  it("mounts the shared data read-only and gives no network by default; the teacher's permission gives it", async () => {
    const activity = await createActivity(stack, pats.prof!);
    const copy = await openCopy(stack, pats.alice!, activity.code);
    await startServer(stack, pats.alice!, copy);
    const probe = [
      "import os",
      "print(open('/home/jovyan/donnees/météo.csv', encoding='utf-8').read().splitlines()[1])",
      "try:\n    open('/home/jovyan/donnees/x.txt', 'w')\n    print('écrit')\nexcept OSError as e:\n    print('lecture seule', e.errno)",
      "print('interfaces', sorted(os.listdir('/sys/class/net')))",
    ].join("\n");
    const closed = await run(copy, probe);
    expect(closed.status).toBe("ok");
    expect(closed.text).toContain("Lyon;21");
    expect(closed.text).toContain("lecture seule");
    expect(closed.text).toContain("interfaces ['lo']"); // no network interface but loopback

    // The teacher allows the Internet for this activity; the next server of the copy gets a network.
    const patch = await fetch(`${stack.url}/api/v1/activities/${activity.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${pats.prof}`, "content-type": "application/json" },
      body: JSON.stringify({ allowNetwork: true }),
    });
    expect(patch.status).toBe(200);
    expect(((await patch.json()) as { allowNetwork: boolean }).allowNetwork).toBe(true);
    await fetch(`${stack.url}/api/v1/copies/${copy}/server`, { method: "DELETE", headers: { authorization: `Bearer ${pats.alice}` } });
    await startServer(stack, pats.alice!, copy);
    const open = await run(copy, "import os\nprint('interfaces', sorted(os.listdir('/sys/class/net')))");
    expect(open.status).toBe("ok");
    expect(open.text).not.toContain("interfaces ['lo']");
    // A student cannot change that permission.
    const denied = await fetch(`${stack.url}/api/v1/activities/${activity.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${pats.alice}`, "content-type": "application/json" },
      body: JSON.stringify({ allowNetwork: false }),
    });
    expect(denied.status).toBe(403);
  });
});

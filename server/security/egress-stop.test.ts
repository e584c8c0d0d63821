/**
 * `./carnet start` takes Carnet's egress firewall away when the site stops (server/cli/main.ts cleanupNetwork): the
 * rules a server with Internet access installed (spawner/egress.ts) are put on this machine, a real portal is started
 * and stopped as an admin would (SIGTERM to the supervisor), and afterwards no CARNET chain or jump is left and IPv4
 * forwarding is what it was before. Needs root; skipped (loudly) when another Carnet on this machine has servers
 * with Internet access running, whose rules must stay.
 */
import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { startStack } from "@/e2e/stack";
import { DEFAULT_LOCAL_SUBNET, egressInterfacesInUse, egressLeftovers, ensureEgressRules, FORWARD_SAVED } from "@/spawner/egress";

const isRoot = process.getuid?.() === 0;
if (!isRoot && process.env.CI === "true") throw new Error("the egress cleanup test needs root under CI");
const busy = isRoot ? egressInterfacesInUse() : [];
if (busy.length) console.warn(`*** SKIPPED: egress cleanup at site stop: interfaces of another run in use (${busy.join(", ")}) ***`);

describe.skipIf(!isRoot || busy.length > 0)("security: the site's stop removes Carnet's egress rules", () => {
  it("rules and IPv4 forwarding installed, ./carnet start then stop: nothing of Carnet's left, forwarding as before", { timeout: 240_000 }, async () => {
    const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
    const before = fs.existsSync(FORWARD_SAVED) ? fs.readFileSync(FORWARD_SAVED, "utf8").trim() : fs.readFileSync(IP_FORWARD, "utf8").trim();
    await ensureEgressRules({ subnets: [DEFAULT_LOCAL_SUBNET] });
    const installed = await egressLeftovers();
    expect(installed.some((l) => /CARNET-IN-/.test(l)), installed.join("\n")).toBe(true);
    expect(fs.readFileSync(IP_FORWARD, "utf8").trim()).toBe("1");

    const stack = await startStack();
    try {
      expect((await fetch(`${stack.url}/api/v1/health`)).status).toBe(200);
    } finally {
      await stack.stop();
      fs.rmSync(stack.dataDir, { recursive: true, force: true });
    }
    expect(await egressLeftovers()).toEqual([]);
    expect(fs.readFileSync(IP_FORWARD, "utf8").trim()).toBe(before);
  });
});

/**
 * How `./carnet start` launches its children (server/cli/launch.ts; docs/operations.md, "Weight"): the proxy and the
 * render worker as plain-JavaScript bundles, run by plain `node` (no tsx), a failed bundle falling back to tsx, Node's
 * flags and their override. The render worker's bundle really renders a notebook through the real pool.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../../e2e/stack";
import { RenderPool } from "../notebooks/render-pool";
import { launchPlan, PORTAL_FLAGS, prebuild, PROXY_FLAGS } from "./launch";

const root = path.resolve(import.meta.dirname, "../..");
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "carnet-launch-"));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

describe("launch plan", () => {
  it("bundles the proxy and the render worker into plain JavaScript that node runs without tsx", { timeout: 60_000 }, async () => {
    const plan = await launchPlan(root, {});
    expect(plan.notes).toEqual([]);
    const proxy = plan.proxyArgs.at(-1)!;
    expect(proxy).toMatch(/node_modules\/\.cache\/carnet\/proxy-[0-9a-f]{16}\.mjs$/);
    expect(plan.proxyArgs).not.toContain("tsx");
    const worker = plan.env.CARNET_RENDER_WORKER!;
    expect(worker).toMatch(/render-worker-[0-9a-f]{16}\.mjs$/);
    for (const f of [proxy, worker]) {
      // Valid JavaScript for plain node (a TypeScript annotation left in would fail here).
      execFileSync(process.execPath, ["--check", f]);
      expect(fs.readFileSync(f, "utf8")).not.toMatch(/from "\.\.?\//); // our files are inside, packages outside
    }
    // The same sources give the same file: nothing rewritten under a running portal.
    expect((await launchPlan(root, {})).proxyArgs.at(-1)).toBe(proxy);

    // The bundled worker renders, through the real pool.
    const before = process.env.CARNET_RENDER_WORKER;
    process.env.CARNET_RENDER_WORKER = worker;
    const pool = new RenderPool({ size: 1 });
    try {
      const nb = Buffer.from(JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells: [{ cell_type: "markdown", metadata: {}, source: "# Bonjour $x^2$" }] }));
      const out = await pool.render(nb, { name: "a.ipynb", downloadUrl: "/x" });
      expect(out.kind).toBe("html");
      expect(out.kind === "html" && out.html).toContain("Bonjour");
      expect(out.kind === "html" && out.html).toContain("katex");
    } finally {
      await pool.close();
      if (before === undefined) delete process.env.CARNET_RENDER_WORKER;
      else process.env.CARNET_RENDER_WORKER = before;
    }
  });

  it("falls back to tsx, with the reason, when an entry cannot be bundled", async () => {
    const bad = path.join(scratch, "bad.ts");
    fs.writeFileSync(bad, "export const x: number = ;\n");
    const [r] = await prebuild(root, [{ entry: path.relative(root, bad), name: "bad" }]);
    expect(r!.file).toBeUndefined();
    expect(r!.args).toEqual(["--import", "tsx", bad]);
    expect(r!.error).toBeTruthy();
  });

  it("gives Node's flags to each child, replaced by CARNET_PORTAL_NODE_FLAGS / CARNET_PROXY_NODE_FLAGS; the memory report only when asked", async () => {
    const plain = await launchPlan(root, { CARNET_RENDER_WORKER: "/elsewhere.mjs" });
    expect(plain.nextFlags).toEqual([...PORTAL_FLAGS]);
    expect(plain.proxyArgs.slice(0, PROXY_FLAGS.length)).toEqual([...PROXY_FLAGS]);
    expect(plain.env.CARNET_RENDER_WORKER).toBeUndefined(); // the site's own worker is kept
    expect(plain.nextFlags.join(" ")).not.toContain("memory-report");

    const tuned = await launchPlan(root, { CARNET_PORTAL_NODE_FLAGS: "--max-old-space-size=1024  --optimize-for-size", CARNET_PROXY_NODE_FLAGS: "", CARNET_MEMORY_REPORT: "1" });
    expect(tuned.nextFlags.slice(0, 2)).toEqual(["--max-old-space-size=1024", "--optimize-for-size"]);
    expect(tuned.nextFlags.slice(2)).toEqual(["--import", path.join(root, "server/cli/memory-report.mjs")]);
    expect(tuned.proxyArgs[0]).toBe("--import");
  });
});

describe("the supervisor of a running portal", () => {
  let stack: Stack | undefined;
  afterAll(async () => {
    await stack?.stop();
    if (stack) fs.rmSync(stack.dataDir, { recursive: true, force: true });
  });

  it("holds no database (migrations ran in a child that exited) and runs the proxy as a bundle without tsx", { timeout: 180_000 }, async () => {
    stack = await startStack({ env: { LOG_LEVEL: "warn" } });
    const run = JSON.parse(fs.readFileSync(path.join(stack.dataDir, "run", "portal.json"), "utf8")) as { pid: number; nextPid: number; proxyPid: number };
    const rssMb = (pid: number) => Number(/^Rss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))![1]) / 1024;
    // Before: 880 MiB (PGlite's initdb and migrations kept in the supervisor). After: about 85.
    expect(rssMb(run.pid)).toBeLessThan(200);
    const proxyCmd = fs.readFileSync(`/proc/${run.proxyPid}/cmdline`, "utf8").split("\0");
    expect(proxyCmd.some((a) => /proxy-[0-9a-f]{16}\.mjs$/.test(a))).toBe(true);
    expect(proxyCmd).not.toContain("tsx");
    // The portal answers, its database works (the first admin was made by the child).
    expect((await fetch(`${stack.url}/api/v1/health`)).status).toBe(200);
    expect(fs.existsSync(path.join(stack.dataDir, "secrets", "initial-admin-password"))).toBe(true);
    // The proxy restarted by the supervisor is the same bundle.
    await stack.restartProxy();
    const again = JSON.parse(fs.readFileSync(path.join(stack.dataDir, "run", "portal.json"), "utf8")) as { proxyPid: number };
    expect(fs.readFileSync(`/proc/${again.proxyPid}/cmdline`, "utf8")).toMatch(/proxy-[0-9a-f]{16}\.mjs/);
  });
});

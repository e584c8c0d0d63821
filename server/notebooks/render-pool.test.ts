/**
 * The render pool's weight (docs/operations.md, "Weight"): no worker thread until a preview is asked for, idle ones
 * ended after `idleMs` (each holds its own V8 heap with marked, KaTeX, sanitize-html and the nbformat schemas), one
 * started again on the next preview, which is still right. Real worker threads running render.ts. Also the attack: a
 * student (or a class) that keeps the pool busy then idle, again and again, never leaves more workers than its size,
 * and a preview asked for just as a worker is being ended is still answered.
 */
import { afterEach, describe, expect, it } from "vitest";
import { RenderPool } from "./render-pool";

const notebook = (text: string) =>
  Buffer.from(JSON.stringify({ nbformat: 4, nbformat_minor: 4, metadata: {}, cells: [{ cell_type: "markdown", metadata: {}, source: `# ${text}\n\n*$x^2$*` }] }));
const req = (name: string) => ({ name, downloadUrl: "/copies/x/telecharger" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pool: RenderPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

describe("render pool: workers on demand", () => {
  it("starts no worker before the first preview; ends an idle one after idleMs; starts one again on demand", { timeout: 60_000 }, async () => {
    pool = new RenderPool({ size: 1, idleMs: 400 });
    expect(pool.stats().workers).toBe(0);

    const first = await pool.render(notebook("Premier"), req("a.ipynb"));
    expect(first.kind).toBe("html");
    expect(first.kind === "html" && first.html).toContain("Premier");
    expect(pool.stats().workers).toBe(1);

    // Busy: previews within idleMs keep the same worker.
    await sleep(200);
    await pool.render(notebook("Deuxième"), req("b.ipynb"));
    await sleep(250);
    expect(pool.stats().workers).toBe(1);

    // Idle for longer than idleMs: ended.
    await sleep(600);
    expect(pool.stats().workers).toBe(0);

    const again = await pool.render(notebook("Troisième"), req("c.ipynb"));
    expect(again.kind === "html" && again.html).toContain("Troisième");
    expect(pool.stats().workers).toBe(1);
    // The cache still answers a preview already made, without a worker.
    await sleep(600);
    expect(pool.stats().workers).toBe(0);
    const cached = await pool.render(notebook("Premier"), req("a.ipynb"));
    expect(cached).toEqual(first);
    expect(pool.stats().workers).toBe(0);
    expect(pool.stats().renders).toBe(3);
  });

  it("attack: busy then idle again and again never leaves more workers than the pool's size, and every preview is answered", { timeout: 120_000 }, async () => {
    pool = new RenderPool({ size: 2, idleMs: 150 });
    for (let round = 0; round < 6; round++) {
      const outs = await Promise.all(Array.from({ length: 5 }, (_, i) => pool!.render(notebook(`r${round}-${i}`), req(`n${round}-${i}.ipynb`))));
      for (const [i, o] of outs.entries()) expect(o.kind === "html" && o.html, `round ${round} #${i}`).toContain(`r${round}-${i}`);
      expect(pool.stats().workers).toBeLessThanOrEqual(2);
      // Sometimes right when the idle timer fires, sometimes well after it.
      await sleep(round % 2 ? 150 : 400);
      expect(pool.stats().workers).toBeLessThanOrEqual(2);
    }
    await sleep(500);
    expect(pool.stats().workers).toBe(0);
  });
});

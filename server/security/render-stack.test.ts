/**
 * Attack (issue 7, item 4) against the real portal (proxy + Next.js production build): a student replaces their copy's
 * notebook, from their own kernel, with one whose markdown cell is pathological for marked ('*a' repeated, 120 kB and
 * 320 kB). Opening the copy page must not stall the portal for everyone: /api/v1/health keeps answering within 1 s
 * while the page renders, the page answers "Aperçu indisponible" with the download link, and a second visit is served
 * from the cache. Prints the health latencies measured (before the fix: 3.6 s and 24 s on this machine).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { startStack, type Stack } from "../../e2e/stack";
import { signInCookie } from "../testing/session";

const corpus = path.resolve(import.meta.dirname, "../../../shared/corpus");
const PASSWORD = "mot-de-passe-solide-42";
let s: Stack;
let studentCookie = "";
let teacherCookie = "";
let copyId = "";
let notebookFile = "";

/** A normal first cell, then `evil` markdown cells of '*a' repeated `pairs` times. */
function hostileNotebook(pairs: number, evil = 1): string {
  return JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [
      { id: "intro", cell_type: "markdown", metadata: {}, source: "# Exercice\nUne cellule normale." },
      ...Array.from({ length: evil }, (_, i) => ({ id: `evil${i}`, cell_type: "markdown", metadata: {}, source: "*a".repeat(pairs) })),
    ],
  });
}

/** Polls /api/v1/health every 50 ms until `until` settles; returns the slowest answer in ms. */
async function healthWhile<T>(until: Promise<T>): Promise<{ result: T; worstMs: number; samples: number; failed: number[] }> {
  let done = false;
  let worstMs = 0;
  let samples = 0;
  const failed: number[] = [];
  const poller = (async () => {
    while (!done) {
      const t = performance.now();
      const r = await fetch(`${s.url}/api/v1/health`);
      await r.arrayBuffer();
      if (r.status !== 200) failed.push(r.status);
      worstMs = Math.max(worstMs, performance.now() - t);
      samples++;
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  try {
    const result = await until;
    return { result, worstMs, samples, failed };
  } finally {
    done = true;
    await poller;
  }
}

async function page(cookie: string): Promise<{ status: number; body: string; ms: number }> {
  const t = performance.now();
  const r = await fetch(`${s.url}/copies/${copyId}`, { headers: { cookie } });
  const body = await r.text();
  return { status: r.status, body, ms: performance.now() - t };
}

beforeAll(async () => {
  s = await startStack();
  await s.addUser("prof-r", "teacher", PASSWORD, "Mme Rendu");
  await s.addUser("eleve-r", "student", PASSWORD, "Élève Hostile");
  teacherCookie = await signInCookie(s.url, "prof-r", PASSWORD);
  studentCookie = await signInCookie(s.url, "eleve-r", PASSWORD);
  const form = new FormData();
  form.set("title", "Rendu");
  form.set("notebook", new Blob([fs.readFileSync(path.join(corpus, "nbformat/valid/test4.ipynb"))]), "devoir.ipynb");
  const created = await fetch(`${s.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${await s.token("prof-r")}` }, body: form });
  expect(created.status).toBe(201);
  const { code } = (await created.json()) as { code: string };
  const opened = await fetch(`${s.url}/api/v1/open/${code}`, { method: "POST", headers: { authorization: `Bearer ${await s.token("eleve-r")}` } });
  expect(opened.status).toBe(201);
  copyId = ((await opened.json()) as { id: string }).id;
  notebookFile = path.join(s.dataDir, "copies", copyId, "devoir.ipynb");
  expect(fs.existsSync(notebookFile)).toBe(true);
}, 300_000);

afterAll(async () => s?.stop());

describe("a hostile markdown cell on the copy page", () => {
  it.each([
    ["120 kB", 60_000, 1],
    ["320 kB", 160_000, 1],
    // each cell under the per-cell cap: only the worker's time budget stops this one
    ["100 cells of 48 kB", 24_000, 100],
  ])("keeps /api/v1/health under 1 s while the copy page renders it (%s)", async (label, pairs, evil) => {
    // What the student's kernel does: overwrite its own notebook.
    fs.writeFileSync(notebookFile, hostileNotebook(pairs, evil));
    const { result, worstMs, samples, failed } = await healthWhile(page(studentCookie));
    console.log(
      `render-stack ${label}: copy page ${result.status} in ${Math.round(result.ms)} ms, worst /api/v1/health ${Math.round(worstMs)} ms over ${samples} requests` +
        (failed.length ? `, ${failed.length} not 200 (${failed.join(", ")})` : ""),
    );
    expect(failed).toEqual([]);
    expect(result.status).toBe(200);
    expect(result.body).toContain("Aperçu indisponible");
    expect(result.body).toContain(`/api/v1/copies/${copyId}/download`);
    expect(result.body).toContain("Une cellule normale");
    expect(worstMs).toBeLessThan(1000);
    expect(result.ms).toBeLessThan(6000);

    // The teacher's view of the same file comes from the cache: no second render.
    const again = await page(teacherCookie);
    console.log(`render-stack ${label}: teacher's view (cached) ${Math.round(again.ms)} ms`);
    expect(again.status).toBe(200);
    expect(again.body).toContain("Aperçu indisponible");
    expect(again.ms).toBeLessThan(1000);
  });

  it("still shows a normal notebook once the student puts one back", async () => {
    fs.copyFileSync(path.join(corpus, "courses/cahiers-de-programmes/Tutoriels/LaTeX.ipynb"), notebookFile);
    const r = await page(studentCookie);
    expect(r.status).toBe(200);
    expect(r.body).toContain('class="katex"');
    expect(r.body).not.toContain("Aperçu indisponible");
  });
});

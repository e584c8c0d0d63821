/**
 * History benchmark: `npx tsx bench/history.ts` (no server needed: PGlite in memory, a temporary data dir).
 * Not a test: it prints tables.
 *
 * A class of 35 students works for an hour on one activity and saves every two minutes (30 saves each): each save
 * edits the cell they are on (their answer grows), runs it (new output and execution count), and, for the notebooks
 * with plots, re-draws a figure now and then (new PNG bytes). Every save is captured as the portal captures it
 * (captureSave: stat walk, safe read, chunked content-addressed store). Three course notebooks of the corpus:
 * text only, with a few plots, and a 1.7 MB lecture with 40 figures. Then the teacher publishes a v2 (a fixed
 * question, a new exercise) and it is merged into all 35 copies (servers stopped): the time it takes.
 * BENCH_STUDENTS (35) and BENCH_SAVES (30) change the class.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { setupTestDb } from "../server/testing/db";
import { stageUpload } from "../server/testing/upload";
import { createUser } from "../server/users";
import { createActivity } from "../server/activities/create-activity";
import { replaceVersion } from "../server/activities/replace-version";
import { openCopy } from "../server/copies/open-copy";
import { copyDir } from "../server/storage";
import { db } from "../server/db";
import { parseNotebook, serializeNotebook, type CodeCell, type NotebookV4 } from "../server/notebooks/validate";
import { captureSave } from "../server/history/snapshots";
import { storeUsage } from "../server/history/store";
import { propagateVersion } from "../server/history/update";

const STUDENTS = Number(process.env.BENCH_STUDENTS ?? 35);
const SAVES = Number(process.env.BENCH_SAVES ?? 30);
const corpus = path.resolve(import.meta.dirname, "../../shared/corpus/courses");

const SCENARIOS = [
  { name: "texte seul (1re NSI, version élève)", file: "premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv_version_eleve.ipynb", plots: false },
  { name: "avec 3 graphiques (1re NSI)", file: "premiere_nsi/T5_Traitement_de_donnees/01_Manipulation_csv.ipynb", plots: true },
  { name: "cours de 1,7 Mo, 40 figures", file: "scientific-python-lectures/Lecture-4-Matplotlib.ipynb", plots: true },
];

/** A small deterministic generator: the same class every run. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} Mo`;
const kb = (b: number) => `${(b / 1024).toFixed(0)} Ko`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
};

/** One save of student `who` at step `k`: the answer they are on grows, is run; a plot is sometimes redrawn. */
function work(nb: NotebookV4, who: number, k: number, rand: () => number, plots: boolean): void {
  const codeCells = nb.cells.filter((c): c is CodeCell => c.cell_type === "code");
  if (codeCells.length === 0) return;
  const cell = codeCells[Math.min(codeCells.length - 1, Math.floor((k * codeCells.length) / SAVES))]!;
  const src = Array.isArray(cell.source) ? cell.source.join("") : cell.source;
  cell.source = `${src}${src.endsWith("\n") || src === "" ? "" : "\n"}resultat_${who}_${k} = ${Math.floor(rand() * 1000)}  # essai ${k}\n`;
  cell.execution_count = k + 1;
  const outputs: CodeCell["outputs"] = [{ output_type: "stream", name: "stdout", text: [`résultat ${who}.${k} : ${Math.floor(rand() * 1e6)}\n`] }];
  if (plots && rand() < 0.3) {
    // A redrawn figure: ~20 Ko of new PNG bytes (random: incompressible, the worst case).
    outputs.push({ output_type: "display_data", data: { "image/png": crypto.randomBytes(15_000).toString("base64"), "text/plain": ["<Figure size 640x480 with 1 Axes>"] }, metadata: {} });
  }
  cell.outputs = outputs;
}

async function main() {
  const t = await setupTestDb("pglite");
  const rows: string[][] = [];
  const mergeRows: string[][] = [];
  try {
    let n = 0;
    for (const sc of SCENARIOS) {
      const original = fs.readFileSync(path.join(corpus, sc.file));
      const teacher = await createUser({ username: `prof${n}`, role: "TEACHER" });
      const NB = path.basename(sc.file);
      const a = await createActivity({ owner: teacher, upload: stageUpload({ [NB]: original }, NB) });
      const before = await storeUsage();
      const copies: { id: string; activityId: string; versionId: string; notebookPath: string }[] = [];
      for (let s = 0; s < STUDENTS; s++) {
        const u = await createUser({ username: `eleve${n}-${s}`, role: "STUDENT" });
        copies.push((await openCopy(u, a.code)).copy);
      }
      let naive = 0;
      let points = 0;
      const times: number[] = [];
      const rand = rng(42 + n);
      for (let k = 0; k < SAVES; k++) {
        for (let s = 0; s < STUDENTS; s++) {
          const c = copies[s]!;
          const file = path.join(copyDir(c.id), c.notebookPath);
          const nb = parseNotebook(fs.readFileSync(file), NB).notebook;
          work(nb, s, k, rand, sc.plots);
          const bytes = serializeNotebook(nb);
          fs.writeFileSync(file, bytes);
          const when = new Date(Date.now() + (k + 1) * 120_000);
          fs.utimesSync(file, when, when);
          naive += bytes.length;
          const t0 = performance.now();
          if (await captureSave(c)) points++;
          times.push(performance.now() - t0);
        }
      }
      const after = await storeUsage();
      const disk = after.diskBytes - before.diskBytes;
      rows.push([sc.name, kb(original.length), String(points), mb(naive), mb(after.bytes - before.bytes), mb(disk), `${((100 * disk) / naive).toFixed(1)} %`, `${median(times).toFixed(1)} ms`]);

      // The teacher's v2: a question fixed (the first markdown cell), a new exercise at the end.
      const v2 = parseNotebook(original, NB).notebook;
      const firstMd = v2.cells.find((c) => c.cell_type === "markdown");
      if (firstMd) firstMd.source = `${Array.isArray(firstMd.source) ? firstMd.source.join("") : firstMd.source}\n\n*(énoncé corrigé)*`;
      v2.cells.push({ cell_type: "markdown", metadata: {}, source: "### Exercice bonus" }, { cell_type: "code", metadata: {}, source: "", execution_count: null, outputs: [] });
      await replaceVersion(teacher, a.id, stageUpload({ [NB]: serializeNotebook(v2) }, NB));
      const act = await db().activity.findUniqueOrThrow({ where: { id: a.id } });
      const t0 = performance.now();
      const res = await propagateVersion(teacher, a.id, act.currentVersionId!);
      const ms = performance.now() - t0;
      mergeRows.push([sc.name, String(res.applied), `${(ms / 1000).toFixed(1)} s`, `${(ms / Math.max(1, res.applied)).toFixed(0)} ms`, String(res.failed)]);
      n++;
    }
  } finally {
    await t.close();
  }
  const table = (head: string[], body: string[][]) => {
    const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? "").length)));
    const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(" | ")} |`;
    console.log([line(head), `|${w.map((x) => "-".repeat(x + 2)).join("|")}|`, ...body.map(line)].join("\n"));
  };
  console.log(`\nHistory of a class: ${STUDENTS} students, ${SAVES} saves each (one every 2 minutes for an hour)\n`);
  table(["notebook", "original", "points", "full copies would take", "history (objects)", "history (disk)", "disk / full", "capture (median)"], rows);
  console.log(`\nA teacher's v2 merged into every copy (servers stopped, one after the other)\n`);
  table(["notebook", "copies updated", "total", "per copy", "failed"], mergeRows);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

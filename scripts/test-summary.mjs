// Adds up the runners' reports and prints the closing line: "N passed, N failed, N skipped".
// Exits non-zero when a report is missing, a test failed, or nothing ran at all.
import fs from "node:fs";

const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return null; } };
let passed = 0, failed = 0, skipped = 0;
const parts = [];

const tc = read(".cache/test/typecheck.json");
if (tc) { passed += tc.passed; failed += tc.failed; parts.push(`typecheck ${tc.failed ? "failed" : "ok"}`); }

const lint = read(".cache/test/lint.json");
if (lint) { passed += lint.passed; failed += lint.failed; parts.push(`lint ${lint.failed ? "failed" : "ok"}`); }

const v = read(".cache/test/vitest.json");
if (v) {
  const p = v.numPassedTests ?? 0, f = (v.numFailedTests ?? 0) + (v.numFailedTestSuites && !v.numFailedTests ? v.numFailedTestSuites : 0);
  const s = (v.numPendingTests ?? 0) + (v.numTodoTests ?? 0);
  passed += p; failed += f; skipped += s; parts.push(`vitest ${p}/${f}/${s}`);
}
const pw = read(".cache/test/playwright.json");
if (pw?.stats) {
  const p = (pw.stats.expected ?? 0) + (pw.stats.flaky ?? 0), f = pw.stats.unexpected ?? 0, s = pw.stats.skipped ?? 0;
  passed += p; failed += f; skipped += s; parts.push(`playwright ${p}/${f}/${s}`);
  if (pw.errors?.length) { failed += pw.errors.length; parts.push(`playwright errors ${pw.errors.length}`); }
}
console.log(`\n(${parts.join("; ")})`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed <= 1 ? 1 : 0);

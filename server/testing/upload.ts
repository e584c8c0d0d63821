/** Stages files as a received upload would (under the data dir's staging root), for use-case tests. */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { stagingRoot } from "../storage";
import type { ParsedUpload } from "../uploads";

export function stageUpload(files: Record<string, Buffer | string>, notebook: string, title = "Moyennes"): ParsedUpload {
  const dir = path.join(stagingRoot(), crypto.randomBytes(6).toString("hex"));
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return {
    title,
    description: "",
    notebook: { name: notebook, path: notebook },
    files: Object.keys(files).map((p) => ({ path: p, size: fs.statSync(path.join(dir, p)).size })),
    stagingDir: dir,
    totalSize: 0,
  };
}

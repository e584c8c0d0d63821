/** Demo data, clearly named as such: one teacher, three students, one activity with a CSV annex. */
import fs from "node:fs/promises";
import path from "node:path";
import crypto from "node:crypto";
import { db } from "../db";
import { createUser } from "../users";
import { createActivity } from "../activities/create-activity";
import { stagingRoot } from "../storage";

const DEMO_NOTEBOOK = {
  nbformat: 4,
  nbformat_minor: 5,
  metadata: { kernelspec: { name: "python3", display_name: "Python 3", language: "python" }, language_info: { name: "python" } },
  cells: [
    { id: "intro", cell_type: "markdown", metadata: {}, source: ["# Démo Carnet : températures\n", "\n", "Lisez le fichier `températures.csv` et calculez la moyenne $\\bar{x} = \\frac{1}{n}\\sum x_i$."] },
    { id: "code1", cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: ["import csv\n", "with open('températures.csv', encoding='utf-8') as f:\n", "    valeurs = [float(l['température']) for l in csv.DictReader(f)]\n", "print(sum(valeurs) / len(valeurs))"] },
  ],
};

export async function seedDemo(): Promise<string> {
  const lines: string[] = [];
  const password = "demo-" + crypto.randomBytes(4).toString("hex");
  const make = async (username: string, role: "TEACHER" | "STUDENT", name: string, classes: string[] = []) => {
    const existing = await db().user.findUnique({ where: { username } });
    if (existing) return existing;
    lines.push(`  ${username} / ${password}  (${name})`);
    return createUser({ username, role, name, password, classes });
  };
  const teacher = await make("demo-prof", "TEACHER", "Mme Démo (enseignante de démonstration)");
  await make("demo-eleve1", "STUDENT", "Élève Démo Un", ["2nde 3 (démo)"]);
  await make("demo-eleve2", "STUDENT", "Élève Démo Deux", ["2nde 3 (démo)"]);
  await make("demo-eleve3", "STUDENT", "Élève Démo Trois", ["1re NSI (démo)"]);
  let activity = await db().activity.findFirst({ where: { ownerId: teacher.id, title: { startsWith: "[Démo]" } } });
  if (!activity) {
    const dir = path.join(stagingRoot(), crypto.randomBytes(8).toString("hex"));
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, "Démo températures.ipynb"), JSON.stringify(DEMO_NOTEBOOK, null, 1) + "\n");
    await fs.writeFile(path.join(dir, "températures.csv"), "jour,température\nlundi,12.5\nmardi,14\nmercredi,9.5\n");
    activity = await createActivity({
      owner: teacher,
      upload: {
        title: "[Démo] Moyenne des températures",
        description: "Activité de démonstration créée par ./carnet seed.",
        notebook: { name: "Démo températures.ipynb", path: "Démo températures.ipynb" },
        files: [
          { path: "Démo températures.ipynb", size: 0 },
          { path: "températures.csv", size: 0 },
        ],
        stagingDir: dir,
        totalSize: 0,
      },
    });
  }
  return [
    "Données de démonstration :",
    ...(lines.length ? lines : ["  (comptes déjà présents)"]),
    `  activité « ${activity.title} », code ${activity.code}`,
  ].join("\n");
}

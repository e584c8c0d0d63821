/**
 * The history API through the real portal (proxy + Next.js production build): timeline, a point's notebook, restore,
 * reset and its undo, a teacher's new version with propagate=true, the student's update and its undo; and who may
 * do what (anonymous 401, other students and other teachers 404, cookie calls without Carnet's Origin refused).
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { startStack, type Stack } from "../../e2e/stack";
import { signInCookie } from "../testing/session";

type Who = "anon" | "student" | "otherStudent" | "teacher" | "otherTeacher" | "admin";
const NB = "TP noté.ipynb";
const nb = (cells: [string, string][]) =>
  JSON.stringify({
    nbformat: 4,
    nbformat_minor: 4,
    metadata: {},
    cells: cells.map(([t, s]) => (t === "code" ? { cell_type: "code", metadata: {}, source: s, execution_count: null, outputs: [] } : { cell_type: "markdown", metadata: {}, source: s })),
  });
const V1 = nb([["markdown", "# Sujet"], ["markdown", "Question 1"], ["code", "# réponse"]]);
const V2 = nb([["markdown", "# Sujet (corrigé)"], ["markdown", "Question 1"], ["code", "# réponse"], ["markdown", "Question 2"], ["code", ""]]);

let s: Stack;
const tokens = {} as Record<Who, string>;
let cookie = "";
let activityId = "";
let copyId = "";

async function call(who: Who, method: string, route: string, body?: BodyInit | object) {
  const headers: Record<string, string> = {};
  if (who !== "anon") headers.authorization = `Bearer ${tokens[who]}`;
  let b: BodyInit | undefined;
  if (body && !(body instanceof FormData) && typeof body === "object") {
    headers["content-type"] = "application/json";
    b = JSON.stringify(body);
  } else b = body as BodyInit | undefined;
  return fetch(`${s.url}${route}`, { method, headers, body: b, redirect: "manual" });
}
const json = async (r: Response) => (await r.json()) as Record<string, unknown> & { [k: string]: never };
const copyFile = () => path.join(s.dataDir, "copies", copyId, NB);
function studentSaves(text: string) {
  const n = JSON.parse(fs.readFileSync(copyFile(), "utf8")) as { cells: { source: unknown }[] };
  n.cells[2]!.source = text;
  fs.writeFileSync(copyFile(), JSON.stringify(n, null, 1));
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(copyFile(), t, t);
}
const cellText = (raw: string, i: number) => {
  const src = (JSON.parse(raw) as { cells: { source: string | string[] }[] }).cells[i]!.source;
  return Array.isArray(src) ? src.join("") : src;
};

beforeAll(async () => {
  s = await startStack({ env: { CARNET_HISTORY_INTERVAL_S: "3600" } });
  const users: [Who, string, "teacher" | "student" | "admin"][] = [
    ["student", "eleve-h", "student"],
    ["otherStudent", "eleve-i", "student"],
    ["teacher", "prof-h", "teacher"],
    ["otherTeacher", "prof-i", "teacher"],
    ["admin", "admin-h", "admin"],
  ];
  for (const [who, username, role] of users) {
    await s.addUser(username, role, `mot-de-passe-${username}`, `Nom ${username}`);
    tokens[who] = await s.token(username);
  }
  cookie = await signInCookie(s.url, "eleve-h", "mot-de-passe-eleve-h");
  const form = new FormData();
  form.set("title", "Historique");
  form.set("notebook", new Blob([V1]), NB);
  form.append("annexes", new Blob(["a;b\n1;2\n"]), "notes.csv");
  const created = await call("teacher", "POST", "/api/v1/activities", form);
  expect(created.status).toBe(201);
  const a = (await created.json()) as { id: string; code: string };
  activityId = a.id;
  const opened = await call("student", "POST", `/api/v1/open/${a.code}`);
  copyId = ((await opened.json()) as { id: string }).id;
}, 300_000);

afterAll(async () => s?.stop());

describe("history API", () => {
  it("timeline, a point's notebook, reset and « Annuler la réinitialisation », restore", async () => {
    expect(await (await call("student", "GET", `/api/v1/copies/${copyId}/history`)).json()).toEqual([]);
    studentSaves("x = 42");
    const reset = await call("student", "POST", `/api/v1/copies/${copyId}/reset`);
    expect(reset.status).toBe(200);
    const r = (await reset.json()) as { point: { id: string; kind: string }; undo: { id: string; kind: string }; version: number };
    expect(r).toMatchObject({ point: { kind: "reset" }, undo: { kind: "save" }, version: 1 });
    expect(cellText(fs.readFileSync(copyFile(), "utf8"), 2)).toBe("# réponse");

    const list = (await (await call("teacher", "GET", `/api/v1/copies/${copyId}/history`)).json()) as { id: string; at: string; kind: string; size: number }[];
    expect(list.map((p) => p.kind)).toEqual(["reset", "save"]);
    expect(list[0]).toEqual({ id: r.point.id, at: expect.any(String), kind: "reset", size: expect.any(Number) });

    const point = await call("admin", "GET", `/api/v1/copies/${copyId}/history/${r.undo.id}`);
    expect(point.status).toBe(200);
    expect(point.headers.get("content-type")).toBe("application/x-ipynb+json");
    expect(point.headers.get("content-disposition")).toContain("attachment");
    expect(cellText(await point.text(), 2)).toBe("x = 42");

    const undo = await call("student", "POST", `/api/v1/copies/${copyId}/reset/undo`);
    expect(undo.status).toBe(200);
    expect(cellText(fs.readFileSync(copyFile(), "utf8"), 2)).toBe("x = 42");

    const restored = await call("student", "POST", `/api/v1/copies/${copyId}/restore`, { point: r.point.id });
    expect(restored.status).toBe(200);
    expect(((await restored.json()) as { written: string[] }).written).toEqual([NB]);
    expect(cellText(fs.readFileSync(copyFile(), "utf8"), 2)).toBe("# réponse");
    expect((await call("student", "POST", `/api/v1/copies/${copyId}/restore`, { point: 12 })).status).toBe(400);
    expect((await call("student", "POST", `/api/v1/copies/${copyId}/restore`, { point: "inconnu" })).status).toBe(404);
  });

  it("a new version with propagate=true is merged into the stopped copy; the student undoes and re-applies it", async () => {
    studentSaves("print('ma réponse')");
    const form = new FormData();
    form.set("notebook", new Blob([V2]), NB);
    form.set("propagate", "true");
    const v = await call("teacher", "POST", `/api/v1/activities/${activityId}/versions`, form);
    expect(v.status).toBe(201);
    expect(((await v.json()) as { propagation: unknown }).propagation).toEqual({ offered: 1, applied: 1, pending: 0, failed: 0 });
    const onDisk = fs.readFileSync(copyFile(), "utf8");
    expect(cellText(onDisk, 0)).toBe("# Sujet (corrigé)");
    expect(cellText(onDisk, 2)).toBe("print('ma réponse')");
    expect(cellText(onDisk, 3)).toBe("Question 2");

    const st = (await (await call("student", "GET", `/api/v1/copies/${copyId}/update`)).json()) as { applied: { toVersion: number; appliedBy: string; summary: { cells: { kind: string }[] } } };
    expect(st.applied).toMatchObject({ toVersion: 2, appliedBy: "teacher" });
    expect(st.applied.summary.cells.map((c) => c.kind)).toEqual(["updated", "added", "added"]);

    expect((await call("student", "POST", `/api/v1/copies/${copyId}/update/undo`)).status).toBe(200);
    expect(cellText(fs.readFileSync(copyFile(), "utf8"), 0)).toBe("# Sujet");
    const again = await call("student", "POST", `/api/v1/copies/${copyId}/update`);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { summary: { toVersion: number } }).summary.toVersion).toBe(2);
    expect(cellText(fs.readFileSync(copyFile(), "utf8"), 2)).toBe("print('ma réponse')");
    // Nothing left to apply.
    expect((await call("student", "POST", `/api/v1/copies/${copyId}/update`)).status).toBe(409);
    const kinds = ((await (await call("student", "GET", `/api/v1/copies/${copyId}/history`)).json()) as { kind: string }[]).map((p) => p.kind);
    expect(kinds.slice(0, 3)).toEqual(["update", "restore", "update"]);
  });

  it("nobody else reaches a copy's history; cookie calls need Carnet's Origin", async () => {
    const points = (await (await call("student", "GET", `/api/v1/copies/${copyId}/history`)).json()) as { id: string }[];
    const p = points[0]!.id;
    const routes: [string, string, object?][] = [
      ["GET", `/api/v1/copies/${copyId}/history`],
      ["GET", `/api/v1/copies/${copyId}/history/${p}`],
      ["POST", `/api/v1/copies/${copyId}/restore`, { point: p }],
      ["POST", `/api/v1/copies/${copyId}/reset`],
      ["POST", `/api/v1/copies/${copyId}/reset/undo`],
      ["GET", `/api/v1/copies/${copyId}/update`],
      ["POST", `/api/v1/copies/${copyId}/update`],
      ["POST", `/api/v1/copies/${copyId}/update/undo`],
    ];
    for (const [method, route, body] of routes) {
      expect((await call("anon", method, route, body)).status, `${method} ${route} anon`).toBe(401);
      expect((await call("otherStudent", method, route, body)).status, `${method} ${route} other student`).toBe(404);
      expect((await call("otherTeacher", method, route, body)).status, `${method} ${route} other teacher`).toBe(404);
    }
    const before = fs.readFileSync(copyFile());
    const csrf = await fetch(`${s.url}/api/v1/copies/${copyId}/reset`, { method: "POST", headers: { cookie }, redirect: "manual" });
    expect(csrf.status).toBe(403);
    const evil = await fetch(`${s.url}/api/v1/copies/${copyId}/reset`, { method: "POST", headers: { cookie, origin: "https://evil.example" }, redirect: "manual" });
    expect(evil.status).toBe(403);
    expect(fs.readFileSync(copyFile()).equals(before)).toBe(true);
    const ok = await fetch(`${s.url}/api/v1/copies/${copyId}/history`, { headers: { cookie, origin: s.url } });
    expect(ok.status).toBe(200);
  });
});

/**
 * The authorization matrix, against the real portal (proxy + Next.js production build): every API route and page,
 * for anonymous, student, another student, teacher, another teacher and admin. A student sees only their own
 * copies; a teacher only the copies of their own activities; an admin everything.
 */
import { describe, it, expect, beforeAll, afterAll } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { startStack, type Stack } from "../e2e/stack";
import { signInCookie } from "./testing/session";

const corpus = path.resolve(import.meta.dirname, "../../shared/corpus");
type Who = "anon" | "student" | "otherStudent" | "teacher" | "otherTeacher" | "admin";
const WHO: Who[] = ["anon", "student", "otherStudent", "teacher", "otherTeacher", "admin"];

let s: Stack;
const tokens = {} as Record<Who, string>;
const cookies = {} as Record<Who, string>;
let activityId = "";
let code = "";
let copyId = "";

async function call(who: Who, method: string, route: string, body?: BodyInit, viaCookie = false) {
  const headers: Record<string, string> = {};
  if (who !== "anon") {
    if (viaCookie) {
      headers.cookie = cookies[who];
      headers.origin = s.url;
    } else headers.authorization = `Bearer ${tokens[who]}`;
  }
  return fetch(`${s.url}${route}`, { method, headers, body, redirect: "manual" });
}

beforeAll(async () => {
  s = await startStack();
  const users: [Who, string, "teacher" | "student" | "admin"][] = [
    ["student", "eleve-a", "student"],
    ["otherStudent", "eleve-b", "student"],
    ["teacher", "prof-a", "teacher"],
    ["otherTeacher", "prof-b", "teacher"],
    ["admin", "admin-x", "admin"],
  ];
  for (const [who, username, role] of users) {
    await s.addUser(username, role, `mot-de-passe-${username}`, `Nom ${username}`, role === "student" ? "2nde 3" : undefined);
    tokens[who] = await s.token(username);
    cookies[who] = await signInCookie(s.url, username, `mot-de-passe-${username}`);
  }
  const form = new FormData();
  form.set("title", "Matrice");
  form.set("notebook", new Blob([fs.readFileSync(path.join(corpus, "nbformat/valid/test4.ipynb"))]), "Exercice élève n°1 l'été.ipynb");
  const created = await call("teacher", "POST", "/api/v1/activities", form);
  expect(created.status).toBe(201);
  ({ id: activityId, code } = (await created.json()) as { id: string; code: string });
  const opened = await call("student", "POST", `/api/v1/open/${code}`);
  expect(opened.status).toBe(201);
  copyId = ((await opened.json()) as { id: string }).id;
}, 300_000);

afterAll(async () => s?.stop());

// Expected status per caller: [anon, student, otherStudent, teacher, otherTeacher, admin]
const apiMatrix: [string, string, number[]][] = [
  ["GET", "/api/v1/activities", [401, 403, 403, 200, 200, 200]],
  ["GET", "/api/v1/activities/:a", [401, 403, 403, 200, 404, 200]],
  ["GET", "/api/v1/activities/:a/copies", [401, 403, 403, 200, 404, 200]],
  ["GET", "/api/v1/activities/:a/copies.csv", [401, 403, 403, 200, 404, 200]],
  ["GET", "/api/v1/activities/:a/copies.zip", [401, 403, 403, 200, 404, 200]],
  ["GET", "/api/v1/copies/:c/download", [401, 200, 404, 200, 404, 200]],
  ["GET", "/api/v1/copies/:c", [401, 200, 404, 200, 404, 200]],
  ["GET", "/api/v1/copies/:c/comments", [401, 200, 404, 200, 404, 200]],
  ["GET", "/api/v1/copies/:c/server", [401, 200, 404, 200, 404, 404]],
  ["GET", "/api/v1/me/copies", [401, 200, 200, 200, 200, 200]],
  ["GET", "/api/v1/me/tokens", [401, 200, 200, 200, 200, 200]],
  ["GET", "/api/v1/servers", [401, 403, 403, 403, 403, 200]],
  ["GET", "/api/v1/health", [200, 200, 200, 200, 200, 200]],
];

describe("API authorization matrix (personal access tokens)", () => {
  for (const [method, route, expected] of apiMatrix) {
    it(`${method} ${route}`, async () => {
      const got: number[] = [];
      for (const who of WHO) got.push((await call(who, method, route.replace(":a", activityId).replace(":c", copyId))).status);
      expect(got).toEqual(expected);
    });
  }

  it("state changes by anyone but the activity's teacher (or an admin) are refused and change nothing", async () => {
    for (const who of ["anon", "student", "otherStudent", "otherTeacher"] as Who[]) {
      const patch = await call(who, "PATCH", `/api/v1/activities/${activityId}`, JSON.stringify({ title: "piraté" }));
      expect([401, 403, 404]).toContain(patch.status);
      const del = await call(who, "DELETE", `/api/v1/activities/${activityId}`);
      expect([401, 403, 404]).toContain(del.status);
      const version = new FormData();
      version.set("notebook", new Blob(["{}"]), "x.ipynb");
      expect([401, 403, 404]).toContain((await call(who, "POST", `/api/v1/activities/${activityId}/versions`, version)).status);
      if (who !== "student") expect([401, 404]).toContain((await call(who, "DELETE", `/api/v1/copies/${copyId}/server`)).status);
      const body = (await (await call(who, "GET", `/api/v1/activities/${activityId}`)).json().catch(() => ({}))) as { error?: { code: string } };
      expect(body.error?.code).toBeDefined();
    }
    const a = (await (await call("teacher", "GET", `/api/v1/activities/${activityId}`)).json()) as { title: string };
    expect(a.title).toBe("Matrice");
    expect((await call("admin", "PATCH", `/api/v1/activities/${activityId}`, JSON.stringify({ description: "vue par l'admin" }))).status).toBe(200);
  });

  it("errors are JSON with a code and a French message", async () => {
    const r = await call("otherTeacher", "GET", `/api/v1/activities/${activityId}`);
    expect(r.headers.get("content-type")).toContain("application/json");
    expect(await r.json()).toEqual({ error: { code: "not_found", message: "Activité introuvable." } });
    const bad = await fetch(`${s.url}/api/v1/activities`, { headers: { authorization: "Bearer carnet_pat_faux" } });
    expect(bad.status).toBe(401);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("unauthenticated");
  });

  it("cookie sessions need Carnet's own Origin for state changes (CSRF)", async () => {
    const forged = await fetch(`${s.url}/api/v1/activities/${activityId}`, {
      method: "PATCH",
      headers: { cookie: cookies.teacher, origin: "http://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ title: "forgé" }),
    });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { code: string } }).error.code).toBe("csrf");
    const noOrigin = await fetch(`${s.url}/api/v1/open/${code}`, { method: "POST", headers: { cookie: cookies.otherStudent } });
    expect(noOrigin.status).toBe(403);
    const ok = await call("teacher", "PATCH", `/api/v1/activities/${activityId}`, JSON.stringify({ title: "Matrice" }), true);
    expect(ok.status).toBe(200);
  });
});

// Pages: what each caller gets (200 = shown, 404 = hidden, 3xx = sent to sign in).
const pageMatrix: [string, (number | "login")[]][] = [
  ["/activites", ["login", 404, 404, 200, 200, 200]],
  ["/activites/nouvelle", ["login", 404, 404, 200, 200, 200]],
  ["/activites/:a", ["login", 404, 404, 200, 404, 200]],
  ["/copies", ["login", 200, 200, 200, 200, 200]],
  ["/copies/:c", ["login", 200, 404, 200, 404, 200]],
  ["/parametres", ["login", 200, 200, 200, 200, 200]],
];

describe("page authorization matrix (browser sessions)", () => {
  for (const [route, expected] of pageMatrix) {
    it(`GET ${route}`, async () => {
      const got: (number | "login")[] = [];
      for (const who of WHO) {
        const r = await call(who, "GET", route.replace(":a", activityId).replace(":c", copyId), undefined, true);
        const loc = r.headers.get("location") ?? "";
        got.push(r.status >= 300 && r.status < 400 && loc.includes("/connexion") ? "login" : r.status === 307 || r.status === 308 ? r.status : r.status);
      }
      expect(got).toEqual(expected);
    });
  }

  it("a student's copy page never shows another student's notebook, and the share link sends anonymous visitors to sign in and back", async () => {
    const r = await call("anon", "GET", `/a/${code}`);
    expect(r.status).toBeGreaterThanOrEqual(300);
    expect(decodeURIComponent(r.headers.get("location") ?? "")).toContain(`/connexion?callbackUrl=/a/${code}`);
    const page = await (await call("student", "GET", `/copies/${copyId}`, undefined, true)).text();
    expect(page).toContain("Matrice");
    const other = await call("otherStudent", "GET", `/copies/${copyId}`, undefined, true);
    expect(other.status).toBe(404);
    expect(await other.text()).not.toContain("Matrice");
  });
});

/**
 * Attack, through the real portal (proxy + Next.js production build + the student's real Jupyter server on the local
 * backend): with her own uid, in her own copy folder (what one cell of her kernel does), Alice replaces files of her copy with symlinks to the portal's secret
 * (an annex, the notebook, a folder), a FIFO, odd names, and races a folder against a link. Then she and her
 * teacher use every route that reads a copy: the annex route, the download API, the copy page, the teacher's zip
 * and CSV. None of them may contain the secret's bytes; each answers a clear French JSON error (404/422) or leaves
 * the file out. Plus: an upload of 1,001 files is answered 413 and creates nothing.
 * (Hard links to root-only files: the kernel refuses them, fs.protected_hardlinks; see files.test.ts.)
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "@/e2e/stack";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";
import { createActivity, CSV_NAME, NOTEBOOK_NAME, openCopy, PASSWORD, sessionCookie, siteDataDir, startServer, teardown, unzipEntries } from "../servers/live-test-helpers";

const run = promisify(execFile);
const PY = "/usr/bin/python3";
const STUDENT_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } as Record<string, string> as NodeJS.ProcessEnv;

describe("security: a student's links and special files never make the portal read for her", () => {
  let stack: Stack;
  let pats: Record<"prof" | "alice", string>;
  let cookies: Record<"prof" | "alice", string>;
  let activityId: string;
  let copyId: string;
  let copyFolder: string;
  let uid: number;
  const background: ChildProcess[] = [];
  let secret: string;
  let secretPath: string;
  let raceDir: string;

  /**
   * Runs Python as Alice: her server's uid, her copy folder as cwd, as a cell of her kernel would (the kernel itself
   * is reached through the notebook origin's own tests). Fails the test on a Python error.
   */
  async function cell(code: string): Promise<string> {
    const { stdout } = await run(PY, ["-c", code], { cwd: copyFolder, env: STUDENT_ENV, uid, gid: uid, timeout: 20_000 });
    return stdout;
  }
  /** The same, left running (a thread of her kernel); killed at the end. */
  function cellInBackground(code: string): void {
    background.push(spawn(PY, ["-c", code], { cwd: copyFolder, env: STUDENT_ENV, uid, gid: uid, stdio: "ignore" }));
  }
  const asAlice = (route: string) => fetch(`${stack.url}${route}`, { headers: { cookie: cookies.alice }, redirect: "manual" });
  const asProf = (route: string) => fetch(`${stack.url}${route}`, { headers: { authorization: `Bearer ${pats.prof}` } });
  const annex = (rel: string) => `/copies/${copyId}/fichiers/${rel.split("/").map(encodeURIComponent).join("/")}`;

  async function expectRefused(res: Response, statuses: number[]) {
    const body = await res.text();
    expect(body).not.toContain(secret);
    expect(statuses).toContain(res.status);
    const json = JSON.parse(body) as { error: { code: string; message: string } };
    expect(json.error.code).toMatch(/^(not_found|invalid_file_name)$/);
    expect(json.error.message).toMatch(/[a-zé]/); // a sentence, in French
    return json.error;
  }

  beforeAll(async () => {
    // Student servers traverse the data dir to reach their copy: 0711 (enter, not list), as a site's would be.
    const dataDir = siteDataDir("carnet-sec-files-");
    stack = await startStack({ dataDir });
    await stack.addUser("prof", "teacher", PASSWORD, "Marie Durand");
    await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
    pats = { prof: await stack.token("prof"), alice: await stack.token("alice") };
    cookies = { prof: await sessionCookie(stack, "prof"), alice: await sessionCookie(stack, "alice") };
    const activity = await createActivity(stack, pats.prof);
    activityId = activity.id;
    copyId = await openCopy(stack, pats.alice, activity.code);
    await startServer(stack, pats.alice, copyId); // gives the copy folder to Alice's own uid
    copyFolder = path.join(stack.dataDir, "copies", copyId);
    uid = fs.statSync(copyFolder).uid;
    // The portal's own secret, as the attack targets it (mode 0600, root's); a file of our own if the layout moved.
    secretPath = path.join(stack.dataDir, "secrets", "proxy-secret");
    if (!fs.existsSync(secretPath)) {
      secretPath = path.join(stack.dataDir, `secret-${crypto.randomBytes(4).toString("hex")}`);
      fs.writeFileSync(secretPath, crypto.randomBytes(24).toString("base64url"), { mode: 0o600 });
    }
    secret = fs.readFileSync(secretPath, "utf8").trim();
    expect(secret.length).toBeGreaterThanOrEqual(16);
    raceDir = path.join(stack.dataDir, `race-${crypto.randomBytes(4).toString("hex")}`);
    fs.mkdirSync(raceDir, { mode: 0o700 });
    fs.writeFileSync(path.join(raceDir, "f.csv"), secret, { mode: 0o600 });
  }, 300_000);

  afterAll(async () => {
    for (const p of background) p.kill("SIGKILL");
    await teardown(stack, pats?.prof);
  });

  it("the attacker is Alice's own uid, not root (the attack runs with her rights only)", async () => {
    expect(uid).toBeGreaterThanOrEqual(200_000);
    expect(Number((await cell("import os; print(os.getuid())")).trim())).toBe(uid);
    expect(await cell(`import os\ntry:\n    open(${JSON.stringify(path.join(stack.dataDir, "secrets", "proxy-secret"))}).read(); print("lu")\nexcept OSError: print("refusé")`)).toBe("refusé\n");
    // Before the attack, the annex is served: the refusals below are about the links, not the route.
    const ok = await asAlice(annex(CSV_NAME));
    expect(ok.status).toBe(200);
  });

  it("annex replaced by a symlink to the secret: 422 JSON, no secret", async () => {
    await cell(`import os; os.remove(${JSON.stringify(CSV_NAME)}); os.symlink(${JSON.stringify(secretPath)}, ${JSON.stringify(CSV_NAME)})`);
    const e = await expectRefused(await asAlice(annex(CSV_NAME)), [422]);
    expect(e.message).toMatch(/lien symbolique/);
    await expectRefused(await fetch(`${stack.url}${annex(CSV_NAME)}`, { headers: { cookie: cookies.prof } }), [422]); // the teacher too
  });

  it("a symlinked folder (etc -> /etc, secrets -> the data dir's secrets): 422, nothing read", async () => {
    await cell(`import os; os.symlink("/etc", "etc"); os.symlink(${JSON.stringify(path.dirname(secretPath))}, "cles")`);
    const shadow = await asAlice(annex("etc/shadow"));
    const body = await shadow.clone().text();
    expect(body).not.toMatch(/root:/);
    await expectRefused(shadow, [422]);
    await expectRefused(await asAlice(annex(`cles/${path.basename(secretPath)}`)), [422]);
  });

  it("a FIFO named like an annex: answered within 2 s, 422", async () => {
    await cell(`import os; os.mkfifo("tube.csv")`);
    const t0 = Date.now();
    const res = await asAlice(annex("tube.csv"));
    expect(Date.now() - t0).toBeLessThan(2000);
    await expectRefused(res, [422]);
    expect((await fetch(`${stack.url}/api/v1/health`)).status).toBe(200); // and the portal is still there
  });

  it("a folder raced against a link to the portal's files: never the secret", async () => {
    await cell(`import os
os.makedirs("reel", exist_ok=True); open("reel/f.csv", "w").write("inoffensif")
os.symlink(${JSON.stringify(raceDir)}, "lien")`);
    cellInBackground(`import os, time
end = time.time() + 20
while time.time() < end:
    os.rename("reel", "d"); os.rename("d", "reel"); os.rename("lien", "d"); os.rename("d", "lien")`);
    const seen = { ok: 0, refused: 0 };
    for (let i = 0; i < 150; i++) {
      const res = await asAlice(annex("d/f.csv"));
      const body = await res.text();
      expect(body).not.toContain(secret);
      if (res.status === 200) {
        expect(body).toBe("inoffensif");
        seen.ok++;
      } else {
        expect([404, 422]).toContain(res.status);
        seen.refused++;
      }
    }
    expect(seen.refused).toBeGreaterThan(0);
  });

  it("notebook replaced by a symlink to the secret: download 422 for student and teacher, copy page and save time clean", async () => {
    await cell(`import os; os.remove(${JSON.stringify(NOTEBOOK_NAME)}); os.symlink(${JSON.stringify(secretPath)}, ${JSON.stringify(NOTEBOOK_NAME)})`);
    for (const who of ["alice", "prof"] as const) {
      const res = await fetch(`${stack.url}/api/v1/copies/${copyId}/download`, { headers: { authorization: `Bearer ${pats[who]}` } });
      const e = await expectRefused(res, [422]);
      expect(e.message).toMatch(/lien symbolique/);
    }
    for (const who of ["alice", "prof"] as const) {
      const page = await fetch(`${stack.url}/copies/${copyId}`, { headers: { cookie: cookies[who] } });
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).not.toContain(secret);
      expect(html).toMatch(/lien symbolique/);
    }
  });

  it("a notebook that is not JSON: the copy page does not print its start", async () => {
    await cell(`import os; os.remove(${JSON.stringify(NOTEBOOK_NAME)}); open(${JSON.stringify(NOTEBOOK_NAME)}, "w").write("MARQUE-" + "z" * 50)`);
    const html = await (await fetch(`${stack.url}/copies/${copyId}`, { headers: { cookie: cookies.alice } })).text();
    expect(html).toMatch(/n(&#x27;|')est pas un fichier JSON/);
    expect(html).not.toContain("MARQUE-");
  });

  it("the teacher's zip and CSV: no secret, no link, no FIFO; student-made names stay inside her folder", async () => {
    await cell(`import os, socket
for n in ["..\\\\..\\\\x.bat", "C:x", "CON.txt", "facture\\u202etxt.exe", "z\\u200b.py", "fin. "]:
    open(n, "w").write("nom")
os.symlink(${JSON.stringify(secretPath)}, "autre-lien.txt")
s = socket.socket(socket.AF_UNIX); s.bind("prise")`);
    const zipRes = await asProf(`/api/v1/activities/${activityId}/copies.zip`);
    expect(zipRes.status).toBe(200);
    const entries = await unzipEntries(Buffer.from(await zipRes.arrayBuffer()));
    const folder = "Alice Martin (2nde 3)";
    expect(entries.length).toBeGreaterThan(3);
    for (const e of entries) {
      expect(e.data.toString("latin1")).not.toContain(secret);
      expect(e.name.startsWith(`${folder}/`)).toBe(true);
      for (const seg of e.name.split("/")) {
        expect(seg).not.toMatch(/^\.\.?$|[\\:*?"<>|\u202e\u200b]|[. ]$/);
        expect(seg).not.toMatch(/^(con|prn|aux|nul|com\d|lpt\d) *(\..*)?$/i);
      }
    }
    const names = entries.map((e) => e.name.slice(folder.length + 1)).sort();
    expect(names).toEqual(expect.arrayContaining([".._.._x.bat", "C_x", "CON_.txt", "facture_txt.exe", "z_.py", "fin"]));
    // Not in the zip: the links (annex, notebook, folders), the FIFO, the socket.
    for (const gone of [CSV_NAME, "autre-lien.txt", "tube.csv", "prise", "etc", "cles"]) expect(names.filter((n) => n === gone || n.startsWith(`${gone}/`))).toEqual([]);
    // The notebook is a regular file again (the test before): it is there, with what she wrote.
    expect(entries.find((e) => e.name === `${folder}/${NOTEBOOK_NAME}`)?.data.toString()).toMatch(/^MARQUE-/);

    const csv = await asProf(`/api/v1/activities/${activityId}/copies.csv`);
    expect(csv.status).toBe(200);
    expect(await csv.text()).not.toContain(secret);
  });

  it("an upload of 1,001 files: 413 with a JSON code and a French message, no activity created", async () => {
    const before = (await (await asProf("/api/v1/activities")).json()) as unknown[];
    const form = new FormData();
    form.set("title", "Trop de fichiers");
    form.set("notebook", new Blob(['{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}']), "Exercice.ipynb");
    for (let i = 0; i < 1000; i++) form.append("annexes", new Blob(["x"]), `f${i}.txt`);
    const res = await fetch(`${stack.url}/api/v1/activities`, { method: "POST", headers: { authorization: `Bearer ${pats.prof}` }, body: form });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("too_large");
    expect(body.error.message).toMatch(/Trop de fichiers/);
    const after = (await (await asProf("/api/v1/activities")).json()) as unknown[];
    expect(after.length).toBe(before.length);
    const staging = path.join(stack.dataDir, "staging");
    expect(fs.existsSync(staging) ? fs.readdirSync(staging) : []).toEqual([]);
  });
});

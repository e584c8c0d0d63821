/**
 * The file attacks of issue 7, item 1, made from INSIDE the student's real kernel (a real Jupyter server of the
 * real stack, reached through Carnet's proxy with her personal token), on both backends: local (the copy's own
 * uid, in its sandbox) and docker (when the engine is up; under CI=true a missing engine fails the suite). One
 * cell at a time she replaces files of her copy with symlinks to the site's secrets, /etc/shadow and another
 * student's copy, makes a FIFO, tries hard links, races a folder against a link in a background thread, makes a
 * 2 GB sparse file, and finally replaces her notebook with a symlink to the secret. Then she and her teacher call
 * every route of the real portal that reads a copy: the annex route /copies/<id>/fichiers/…, the download API, the
 * copy page, the teacher's zip and CSV, the history (captured every second here) and the hand-in. No response holds
 * a byte of any secret, none hangs (the portal's health stays fast), refusals are JSON with a French message.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerEnvOrSkip, startStack, type Stack } from "@/e2e/stack";
import { createActivity, CSV_NAME, KernelSocket, kernelWsUrl, NOTEBOOK_NAME, openCopy, PASSWORD, sessionCookie, siteDataDir, startKernel, startServer, teardown, unzipEntries, waitFor } from "../servers/live-test-helpers";

const skipped: Record<string, string> = {};
const backends = (["local", "docker"] as const).map((b) => ({ backend: b, env: dockerEnvOrSkip(b, "kernel file attacks", (r) => (skipped[b] = r)) }));
if (process.getuid?.() !== 0) {
  if (process.env.CI === "true") throw new Error("kernel file attacks need root (students' own uids) under CI");
  skipped.local = "the local sandbox needs root";
}

for (const { backend, env } of backends)
  describe.skipIf(!env || !!skipped[backend])(`security: a student's kernel makes the portal read nothing for her (${backend})`, () => {
    let stack: Stack;
    let pats: Record<"prof" | "alice" | "bob", string>;
    let cookies: Record<"prof" | "alice", string>;
    let activityId: string;
    let copyId: string;
    let kernel: KernelSocket;
    /** Every secret the attack aims at: the site's secrets, the first line of /etc/shadow, Bob's own file. */
    const secrets: { name: string; path: string; value: string }[] = [];
    let raceDir: string;

    /** Runs one cell in Alice's kernel; returns its output. Fails on a Python error. */
    async function cell(code: string, timeoutMs = 60_000): Promise<string> {
      const r = await kernel.execute(code, timeoutMs);
      if (r.status !== "ok") throw new Error(`cell failed (${r.status}): ${r.error ?? ""}\n${r.text}`);
      return r.text;
    }
    /** A GET as a browser would make it, with the user's session cookie (pages, the annex route, the API alike). */
    const get = (route: string, who: "alice" | "prof") => fetch(`${stack.url}${route}`, { headers: { cookie: cookies[who] }, redirect: "manual" });
    const annex = (rel: string) => `/copies/${copyId}/fichiers/${rel.split("/").map(encodeURIComponent).join("/")}`;
    function expectNoSecret(body: Buffer | string, where: string) {
      const text = Buffer.isBuffer(body) ? body.toString("latin1") : body;
      for (const s of secrets) expect(text.includes(s.value), `${where} holds ${s.name}`).toBe(false);
    }
    async function expectRefused(res: Response, where: string, statuses = [422]) {
      const body = await res.text();
      expectNoSecret(body, where);
      expect(statuses, `${where}: ${res.status} ${body.slice(0, 200)}`).toContain(res.status);
      const json = JSON.parse(body) as { error: { code: string; message: string } };
      expect(json.error.code).toMatch(/^(not_found|invalid_file_name|too_large)$/);
      expect(json.error.message).toMatch(/[a-zéè]{3}/);
      return json.error;
    }
    /** The health endpoint's answer time, in ms, while something else runs. */
    const healthMs = async () => {
      const t0 = Date.now();
      expect((await fetch(`${stack.url}/api/v1/health`)).status).toBe(200);
      return Date.now() - t0;
    };

    beforeAll(async () => {
      const dataDir = siteDataDir(`carnet-kfiles-${backend}-`);
      stack = await startStack({ dataDir, env: { ...env!, CARNET_HISTORY_INTERVAL_S: "1" } });
      await stack.addUser("prof", "teacher", PASSWORD, "Marie Durand");
      await stack.addUser("alice", "student", PASSWORD, "Alice Martin", "2nde 3");
      await stack.addUser("bob", "student", PASSWORD, "Bob Leroy", "2nde 3");
      pats = { prof: await stack.token("prof"), alice: await stack.token("alice"), bob: await stack.token("bob") };
      cookies = { prof: await sessionCookie(stack, "prof"), alice: await sessionCookie(stack, "alice") };
      const activity = await createActivity(stack, pats.prof, `Fichiers (${backend})`);
      activityId = activity.id;
      copyId = await openCopy(stack, pats.alice, activity.code);
      const bobCopy = await openCopy(stack, pats.bob, activity.code);
      // The targets. The site's secrets as they are on disk (root's, 0600), /etc/shadow, a file of Bob's copy.
      const secretsDir = path.join(stack.dataDir, "secrets");
      for (const n of fs.readdirSync(secretsDir)) {
        const value = fs.readFileSync(path.join(secretsDir, n), "utf8").trim();
        if (value.length >= 12) secrets.push({ name: `secrets/${n}`, path: path.join(secretsDir, n), value });
      }
      expect(secrets.map((s) => s.name)).toContain("secrets/proxy-secret");
      const shadow = fs.readFileSync("/etc/shadow", "utf8").split("\n")[0]!;
      secrets.push({ name: "/etc/shadow", path: "/etc/shadow", value: shadow });
      const bobFile = path.join(stack.dataDir, "copies", bobCopy, "bob-secret.csv");
      fs.writeFileSync(bobFile, `bob-${crypto.randomBytes(12).toString("hex")}`, { mode: 0o600 });
      secrets.push({ name: "Bob's copy", path: bobFile, value: fs.readFileSync(bobFile, "utf8") });
      raceDir = path.join(stack.dataDir, `race-${crypto.randomBytes(4).toString("hex")}`);
      fs.mkdirSync(raceDir, { mode: 0o700 });
      fs.writeFileSync(path.join(raceDir, "f.csv"), secrets[0]!.value, { mode: 0o600 });

      await startServer(stack, pats.alice, copyId);
      const k = await startKernel(stack, pats.alice, copyId);
      kernel = await KernelSocket.open(kernelWsUrl(stack, copyId, k), { authorization: `Bearer ${pats.alice}` });
    }, 300_000);

    afterAll(async () => {
      kernel?.close();
      await teardown(stack, pats?.prof);
    }, 120_000);

    it("the kernel runs as Alice, in her copy, and cannot read a secret itself", async () => {
      const out = await cell(`import os, json
res = {"uid": os.getuid(), "here": sorted(os.listdir("."))}
for p in ${JSON.stringify(secrets.map((s) => s.path))}:
    try:
        open(p).read(); res[p] = "lu"
    except OSError as e:
        res[p] = type(e).__name__
print(json.dumps(res))`);
      const r = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
      expect(r.uid).not.toBe(0);
      expect(r.here).toEqual(expect.arrayContaining([NOTEBOOK_NAME, CSV_NAME]));
      for (const s of secrets) expect(r[s.path], s.name).not.toBe("lu");
      expect((await get(annex(CSV_NAME), "alice")).status).toBe(200); // the route works before the attack
    });

    it("symlinks to the secrets, /etc/shadow and Bob's copy (files and folders): 422 JSON for her and her teacher, no byte", async () => {
      await cell(`import os
os.remove(${JSON.stringify(CSV_NAME)})
os.symlink(${JSON.stringify(secrets[0]!.path)}, ${JSON.stringify(CSV_NAME)})
os.symlink("/etc/shadow", "ombre.csv")
os.symlink(${JSON.stringify(secrets.at(-1)!.path)}, "bob.csv")
os.symlink("/etc", "etc")
os.symlink(${JSON.stringify(path.dirname(secrets[0]!.path))}, "cles")
os.symlink(${JSON.stringify(path.dirname(secrets.at(-1)!.path))}, "chez-bob")
print("ok")`);
      for (const rel of [CSV_NAME, "ombre.csv", "bob.csv", "etc/shadow", `cles/${path.basename(secrets[0]!.path)}`, "chez-bob/bob-secret.csv"])
        for (const who of ["alice", "prof"] as const) {
          const e = await expectRefused(await get(annex(rel), who), `${who} ${rel}`);
          expect(e.message).toMatch(/lien symbolique/);
        }
    });

    it("a FIFO and hard links: answered within 2 s, nothing read; the kernel cannot hard-link a file it cannot read", async () => {
      const out = await cell(`import os, json
os.mkfifo("tube.csv")
res = {}
for i, p in enumerate(${JSON.stringify(secrets.map((s) => s.path))}):
    try:
        os.link(p, f"lien{i}.csv"); res[p] = "fait"
    except OSError as e:
        res[p] = type(e).__name__
print(json.dumps(res))`);
      const links = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, string>;
      for (const s of secrets) expect(links[s.path], s.name).not.toBe("fait");
      const t0 = Date.now();
      await expectRefused(await get(annex("tube.csv"), "alice"), "FIFO");
      expect(Date.now() - t0).toBeLessThan(2_000);
      expect(await healthMs()).toBeLessThan(1_000);
    });

    it("a folder raced against a link to the portal's files from a thread of the kernel: never a secret", async () => {
      await cell(`import os, threading, time
os.makedirs("reel", exist_ok=True); open("reel/f.csv", "w").write("inoffensif")
os.symlink(${JSON.stringify(raceDir)}, "lien")
def swap():
    end = time.time() + 25
    while time.time() < end:
        try:
            os.rename("reel", "d"); os.rename("d", "reel"); os.rename("lien", "d"); os.rename("d", "lien")
        except OSError:
            pass
threading.Thread(target=swap, daemon=True).start()
print("ok")`);
      const seen = { ok: 0, refused: 0 };
      for (let i = 0; i < 150; i++) {
        const res = await get(annex("d/f.csv"), i % 2 ? "prof" : "alice");
        const body = await res.text();
        expectNoSecret(body, `race ${i}`);
        if (res.status === 200) {
          expect(body).toBe("inoffensif");
          seen.ok++;
        } else {
          expect([404, 422]).toContain(res.status);
          seen.refused++;
        }
      }
      console.log(`[${backend}] race from the kernel: ${seen.ok} served (the real folder), ${seen.refused} refused, 0 secrets`);
      expect(seen.refused).toBeGreaterThan(0);
    });

    it("a 2 GB sparse file: the annex route and the teacher's zip stream it without stalling the portal", async () => {
      await cell(`f = open("gros.csv", "wb"); f.seek(2 * 1024**3 - 2); f.write(b"\\n"); f.close(); print("ok")`);
      const res = await get(annex("gros.csv"), "alice");
      expect([200, 413]).toContain(res.status);
      if (res.status === 200) {
        const reader = res.body!.getReader();
        let got = 0;
        while (got < 8 * 1024 * 1024) {
          const { value, done } = await reader.read();
          if (done) break;
          got += value.length;
        }
        expect(got).toBeGreaterThanOrEqual(8 * 1024 * 1024);
        expect(await healthMs()).toBeLessThan(1_000);
        await reader.cancel();
      } else await expectRefused(res, "sparse", [413]);
      // The teacher's zip holds it (it is the student's file): it streams, and the portal answers meanwhile.
      const t0 = Date.now();
      const zip = await get(`/api/v1/activities/${activityId}/copies.zip`, "prof");
      expect(zip.status).toBe(200);
      const reader = zip.body!.getReader();
      let size = 0;
      const during: number[] = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        size += value.length;
        if (during.length < 3 && Date.now() - t0 > (during.length + 1) * 1_000) during.push(await healthMs());
      }
      console.log(`[${backend}] teacher's zip with a 2 GB sparse file: ${(size / 1024 / 1024).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s; /api/v1/health during it: ${during.join(", ")} ms`);
      for (const ms of during) expect(ms).toBeLessThan(1_000);
      expect(await healthMs()).toBeLessThan(1_000);
      await cell(`import os; os.remove("gros.csv"); print("ok")`);
    }, 300_000);

    it("the notebook replaced by a symlink to the secret: download 422, copy page clean, no history point holds it", async () => {
      const before = (await (await get(`/api/v1/copies/${copyId}/history`, "alice")).json()) as { id: string }[];
      await cell(`import os
os.remove(${JSON.stringify(NOTEBOOK_NAME)})
os.symlink(${JSON.stringify(secrets[0]!.path)}, ${JSON.stringify(NOTEBOOK_NAME)})
print("ok")`);
      for (const who of ["alice", "prof"] as const) {
        const e = await expectRefused(await get(`/api/v1/copies/${copyId}/download`, who), `download ${who}`);
        expect(e.message).toMatch(/lien symbolique/);
        const page = await fetch(`${stack.url}/copies/${copyId}`, { headers: { cookie: who === "alice" ? cookies.alice : cookies.prof } });
        const html = await page.text();
        expect(page.status).toBe(200);
        expectNoSecret(html, `copy page ${who}`);
        expect(html).toMatch(/lien symbolique/);
      }
      // The capture loop runs every second here: give it a few ticks with the link in place.
      await new Promise((r) => setTimeout(r, 3_500));
      const points = (await (await get(`/api/v1/copies/${copyId}/history`, "alice")).json()) as { id: string }[];
      expect(points.length).toBeGreaterThanOrEqual(before.length);
      for (const p of points) {
        const res = await get(`/api/v1/copies/${copyId}/history/${p.id}`, "prof");
        expectNoSecret(Buffer.from(await res.arrayBuffer()), `history point ${p.id}`);
      }
    });

    it("the teacher's zip and CSV: no secret in any entry, no link, no FIFO, every entry in its student's folder", async () => {
      await cell(`open("reponse.txt", "w").write("ma réponse"); print("ok")`); // a regular file: it must be there
      const zip = await get(`/api/v1/activities/${activityId}/copies.zip`, "prof");
      expect(zip.status).toBe(200);
      const entries = await unzipEntries(Buffer.from(await zip.arrayBuffer()));
      const alice = "Alice Martin (2nde 3)/";
      const bob = "Bob Leroy (2nde 3)/";
      expect(entries.find((e) => e.name === `${alice}reponse.txt`)?.data.toString(), entries.map((e) => e.name).join(", ")).toBe("ma réponse");
      for (const e of entries) {
        expect(e.name.startsWith(alice) || e.name.startsWith(bob), e.name).toBe(true);
        // Bob's own file is in Bob's folder (his teacher's right); nothing else holds any secret.
        const own = e.name === `${bob}bob-secret.csv`;
        for (const s of secrets) if (!(own && s.name === "Bob's copy")) expect(e.data.includes(s.value), `${e.name} holds ${s.name}`).toBe(false);
      }
      const names = entries.filter((e) => e.name.startsWith(alice)).map((e) => e.name.slice(alice.length));
      for (const gone of [CSV_NAME, NOTEBOOK_NAME, "ombre.csv", "bob.csv", "tube.csv", "lien", "etc", "cles", "chez-bob"])
        expect(names.filter((n) => n === gone || n.startsWith(`${gone}/`)), gone).toEqual([]);
      const csv = await get(`/api/v1/activities/${activityId}/copies.csv`, "prof");
      expect(csv.status).toBe(200);
      expectNoSecret(await csv.text(), "CSV");
    }, 120_000);

    it("handing in a copy whose notebook is a link: a clear refusal or a point without the secret, never its bytes", async () => {
      const res = await fetch(`${stack.url}/api/v1/copies/${copyId}/submit`, { method: "POST", headers: { authorization: `Bearer ${pats.alice}` } });
      const body = await res.text();
      expectNoSecret(body, "hand-in");
      if (!res.ok) {
        expect([400, 409, 422], body).toContain(res.status);
        const e = (JSON.parse(body) as { error: { code: string; message: string } }).error;
        console.log(`[${backend}] hand-in of a linked notebook: ${res.status} ${e.code} « ${e.message} »`);
        expect(e.message).toMatch(/[a-zé]{3}/);
      }
      await waitFor("history readable", async () => (await get(`/api/v1/copies/${copyId}/history`, "prof")).ok, 10_000);
      for (const p of (await (await get(`/api/v1/copies/${copyId}/history`, "prof")).json()) as { id: string }[])
        expectNoSecret(Buffer.from(await (await get(`/api/v1/copies/${copyId}/history/${p.id}`, "prof")).arrayBuffer()), `point ${p.id}`);
    });
  });

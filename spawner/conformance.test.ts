/**
 * One behaviour, every backend, for real: real Jupyter, real kernels, a real Docker engine.
 * Docker runs when DOCKER_HOST (or /var/run/docker.sock) answers and the image exists; `./carnet test`
 * starts the private engine with scripts/docker-engine.sh first. Otherwise it says why and skips.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dockerClient } from "./docker";
import { request } from "./http";
import {
  createSpawner,
  execute,
  jupyterApi,
  jupyterFetch,
  lastActivity,
  listManaged,
  startKernel,
  waitForReady,
  type BackendName,
  type BackendOptions,
  type JupyterTarget,
  type SpawnSpec,
  type Spawner,
} from "./index";
import { waitUntil } from "./proc";
import { dockerHost, dockerUnavailable, expectInlinePng, image, isRoot, specMaker, spawnerScratch } from "./test-helpers";

const dockerWhy = await dockerUnavailable();
if (dockerWhy) console.warn(`\n*** SKIPPING the docker backend conformance tests: ${dockerWhy} ***\n`);

// Under the portal's umask, in a 0711 scratch folder; every spawner started is stopped after the file.
const { base, started } = spawnerScratch("carnet-spawner-");
/** One counter for both backends: ids c1, c2… and uids 23001… never repeat within the file. */
const nextSpec = specMaker({ base, idPrefix: "c", uidBase: 23_000, memoryMb: 512, tokenFill: "x" });

const backends: { name: BackendName; skip: string | null }[] = [
  { name: "local", skip: null },
  { name: "docker", skip: dockerWhy },
];

describe.each(backends)("spawner conformance: $name", ({ name, skip }) => {
  const opts: BackendOptions = {
    instanceId: `t${process.pid}${name[0]}`,
    stateDir: path.join(base, `state-${name}`),
    // Without root there is one user for everything: the tests opt in, as a site would have to.
    local: { allowSameUser: !isRoot },
    docker: { host: dockerHost, image },
  };

  /** A spec with its own uid (as root: what the portal gives every copy). */
  function makeSpec(overrides: Partial<SpawnSpec> = {}): SpawnSpec {
    return nextSpec(name, overrides);
  }

  function make(spec: SpawnSpec): Spawner {
    const s = createSpawner(name, spec, opts);
    started.push(s);
    return s;
  }

  async function startReady(spec: SpawnSpec): Promise<{ spawner: Spawner; target: JupyterTarget }> {
    const spawner = make(spec);
    const { url } = await spawner.start();
    await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 60_000, isAlive: async () => (await spawner.poll()).running });
    return { spawner, target: { url, baseUrl: spec.baseUrl, token: spec.token } };
  }

  describe.skipIf(skip !== null)("lifecycle", { timeout: 120_000 }, () => {
    const spec = makeSpec();
    let spawner: Spawner;
    let target: JupyterTarget;

    it("starts, reports progress in French, becomes ready; 200 with the token, 403 without", async () => {
      spawner = make(spec);
      const events: { progress: number; message: string }[] = [];
      const collecting = (async () => {
        for await (const e of spawner.progress()) events.push(e);
      })();
      const { url } = await spawner.start();
      // A Unix socket (only root and the student's uid may open it): no TCP port at all.
      expect(url).toMatch(/^unix:\/.+\.sock$/);
      await collecting;
      expect(events.length).toBeGreaterThanOrEqual(2);
      expect(events[0]?.message).toBe("Préparation de votre espace…");
      expect(events.map((e) => e.progress)).toEqual([...events.map((e) => e.progress)].sort((a, b) => a - b));
      // A later iterator replays the same events.
      const replay: unknown[] = [];
      for await (const e of spawner.progress()) replay.push(e);
      expect(replay).toEqual(events);

      await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 60_000, isAlive: async () => (await spawner.poll()).running });
      target = { url, baseUrl: spec.baseUrl, token: spec.token };
      const anon = await request(url, `${spec.baseUrl}api/status`);
      expect(anon.status).toBe(403);
      const before = await lastActivity(url, spec.baseUrl, spec.token);
      const again = await lastActivity(url, spec.baseUrl, spec.token);
      expect(again.getTime()).toBe(before.getTime());
      expect(await spawner.poll()).toEqual({ running: true });
    });

    it("runs 1+1 in a real kernel through the kernel WebSocket", async () => {
      const kernel = await startKernel(target);
      const r = await execute(target, kernel, "1+1");
      expect(r).toMatchObject({ status: "ok", result: "2" });
      await jupyterApi(target, "DELETE", `kernels/${kernel}`);
    });

    it("writes files through the contents API into workDir, with accents, spaces and apostrophes", async () => {
      await jupyterApi(target, "PUT", "contents/hello.txt", { type: "file", format: "text", content: "bonjour" });
      expect(readFileSync(path.join(spec.workDir, "hello.txt"), "utf8")).toBe("bonjour");

      const nb = { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 };
      for (const nbName of ["Exercice élève n°1 l'été.ipynb", "a&b #1 50% (copie).ipynb"]) {
        const enc = encodeURIComponent(nbName);
        await jupyterApi(target, "PUT", `contents/${enc}`, { type: "notebook", content: nb });
        expect(existsSync(path.join(spec.workDir, nbName))).toBe(true);
        const got = (await (await jupyterApi(target, "GET", `contents/${enc}`)).json()) as { name: string };
        expect(got.name).toBe(nbName);
        // The page the portal links to, and the tree, are served under base_url.
        const page = await jupyterFetch(target, "GET", `notebooks/${enc}`);
        expect(page.status).toBe(200);
        expect(await page.text()).toContain(spec.baseUrl);
      }
      const tree = await jupyterFetch(target, "GET", "tree");
      expect(tree.status).toBe(200);
      // Carnet's Jupyter: no Quit button (Carnet stops servers), Logout hidden by Carnet's root-owned custom.css.
      const html = await tree.text();
      expect(html).not.toContain('id="shutdown"');
      expect(await (await jupyterFetch(target, "GET", "custom/custom.css")).text()).toMatch(/#logout[\s\S]*display: none/);
    });

    it("is adopted by a new Spawner from getState(), and listed by listManaged", async () => {
      const state = spawner.getState();
      expect(JSON.parse(JSON.stringify(state))).toEqual(state);
      const adopted = make(spec);
      adopted.loadState(state);
      expect(await adopted.poll()).toEqual({ running: true });
      expect(adopted.getState()).toEqual(state);
      const listed = await listManaged(name, opts);
      const mine = listed.find((m) => m.id === spec.id);
      expect(mine?.running).toBe(true);
      expect(mine?.state).toEqual(state);
      spawner = adopted;
    });

    it("stops (then poll says not running), and stopping again succeeds", async () => {
      await spawner.stop();
      const p = await spawner.poll();
      expect(p.running).toBe(false);
      await spawner.stop();
      await expect(request(target.url, `${spec.baseUrl}api/status`)).rejects.toThrow();
      expect((await listManaged(name, opts)).find((m) => m.id === spec.id && m.running)).toBeUndefined();
    });

    it("sees a kill -9 of the server", async () => {
      const { spawner: s } = await startReady(makeSpec());
      const state = s.getState();
      if (name === "local") process.kill(state.pid as number, "SIGKILL");
      else await dockerClient(dockerHost).getContainer(state.containerId as string).kill({ signal: "SIGKILL" });
      expect(await waitUntil(async () => !(await s.poll()).running, 10_000)).toBe(true);
      const p = await s.poll();
      expect(p.running).toBe(false);
      if (!p.running && name === "docker") expect(p.exitCode).toBe(137);
      await s.stop();
    });

    it("caps memory: a kernel that allocates more than the cap dies, the server lives on", async () => {
      const { spawner: s, target: t } = await startReady(makeSpec({ memoryMb: 256 }));
      const kernel = await startKernel(t);
      expect((await execute(t, kernel, "1+1")).result).toBe("2");
      const r = await execute(t, kernel, "x = b'a' * (700 * 1024 * 1024)\nlen(x)", 90_000);
      const mode = (s.getState().cage as { mode?: string } | undefined)?.mode;
      if (mode === "rlimit") expect(r.error ?? r.status).toMatch(/MemoryError|died/);
      else expect(r.status).toBe("died");
      expect(await s.poll()).toEqual({ running: true });
      await s.stop();
    });

    it("has the teaching stack: numpy, pandas, matplotlib, scipy, sympy, and an inline PNG plot", async () => {
      const { spawner: s, target: t } = await startReady(makeSpec({ memoryMb: 768 }));
      const kernel = await startKernel(t);
      const r = await execute(
        t,
        kernel,
        [
          "import numpy, pandas, matplotlib, scipy, sympy",
          "import matplotlib.pyplot as plt",
          "from scipy import integrate",
          "x = numpy.linspace(0, 3, 50)",
          "df = pandas.DataFrame({'x': x, 'y': x ** 2})",
          "print(round(integrate.quad(lambda v: v ** 2, 0, 3)[0], 6), sympy.integrate(sympy.Symbol('v') ** 2, (sympy.Symbol('v'), 0, 3)))",
          "plt.plot(df.x, df.y); plt.show()",
        ].join("\n"),
        120_000,
      );
      expect(r.error).toBeUndefined();
      expect(r.stdout).toContain("9.0 9");
      expectInlinePng(r);
      await s.stop();
    });

    it.skipIf(!isRoot)("isolates students: A's kernel can neither read nor write B's folder", async () => {
      const a = await startReady(makeSpec());
      const bSpec = makeSpec();
      const b = await startReady(bSpec);
      await jupyterApi(b.target, "PUT", "contents/secret.txt", { type: "file", format: "text", content: "B only" });
      const secret = path.join(bSpec.workDir, "secret.txt");
      expect(readFileSync(secret, "utf8")).toBe("B only");

      const kernel = await startKernel(a.target);
      const read = await execute(a.target, kernel, `open(${JSON.stringify(secret)}).read()`);
      expect(read.status).toBe("error");
      const write = await execute(a.target, kernel, `open(${JSON.stringify(path.join(bSpec.workDir, "pwned.txt"))}, "w").write("A was here")`);
      expect(write.status).toBe("error");
      const list = await execute(a.target, kernel, `import os; os.listdir(${JSON.stringify(bSpec.workDir)})`);
      expect(list.status).toBe("error");
      // Local: the OS refuses (PermissionError), or the folder is not even there when the data dir is under /tmp
      // (each server has its own /tmp). Docker: separate mount namespaces, B's folder does not exist in A's.
      expect(read.error).toMatch(/^(FileNotFoundError|PermissionError)/);
      expect(write.error).toMatch(/^(FileNotFoundError|PermissionError)/);
      expect(existsSync(path.join(bSpec.workDir, "pwned.txt"))).toBe(false);
      // Nor can A read B's token.
      const token = await execute(a.target, kernel, `open(${JSON.stringify(path.join(opts.stateDir, name, bSpec.id, name === "local" ? "token" : "run/token"))}).read()`);
      expect(token.status).toBe("error");
      await a.spawner.stop();
      await b.spawner.stop();
    });

    it.skipIf(name !== "local")("local: refuses to run a student as the portal's own user unless the site opts in", async () => {
      const noUid = makeSpec({ uid: undefined, gid: undefined });
      const strict = createSpawner("local", noUid, { ...opts, local: { allowSameUser: false } });
      await expect(strict.start()).rejects.toThrow(isRoot ? /spec\.uid is required/ : /portal's own user/);
      expect(await strict.poll()).toMatchObject({ running: false });
      if (isRoot) {
        // Even with the option, root never runs Jupyter without a uid of the copy's own.
        const loose = createSpawner("local", noUid, { ...opts, local: { allowSameUser: true } });
        await expect(loose.start()).rejects.toThrow(/spec\.uid is required/);
      }
    });

    it.skipIf(name !== "docker")("docker: no outbound network by default (socket mode); read-only mounts are read-only", async () => {
      const shared = path.join(base, `shared-${name}`);
      mkdirSync(shared, { recursive: true });
      writeFileSync(path.join(shared, "data.csv"), "a,b\n1,2\n");
      chmodSync(shared, 0o755);
      chmodSync(path.join(shared, "data.csv"), 0o644);
      const { spawner: s, target: t } = await startReady(makeSpec({ readOnlyMounts: [{ hostPath: shared, containerPath: "/data" }] }));
      const kernel = await startKernel(t);
      const net = await execute(
        t,
        kernel,
        "import socket\ns = socket.socket(); s.settimeout(3)\ntry:\n    s.connect(('1.1.1.1', 80)); print('connected')\nexcept OSError as e:\n    print('blocked', e)",
      );
      expect(net.stdout).toContain("blocked");
      expect((await execute(t, kernel, "open('/data/data.csv').read()")).result).toContain("a,b");
      const w = await execute(t, kernel, "open('/data/new.txt', 'w').write('x')");
      expect(w.error).toMatch(/OSError|PermissionError/);
      await s.stop();
    });
  });

  if (skip) it.skip(`docker backend skipped: ${skip}`, () => {});
});

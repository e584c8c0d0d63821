/**
 * Carnet's python3 kernelspec and the server settings that go with it (jupyter-image/data/, jupyter-image/config/; docs/operations.md,
 * "Weight"), for real on both backends: the kernel is ipykernel without debugpy and jedi, still runs the teaching
 * stack and draws an inline plot, still completes with Tab; the server never imports debugpy (it did, through
 * jupyter_client's look-up of ipykernel's built-in spec: about 30 MiB per server); a kernelspec a student plants in
 * their home is not used. Docker runs when its engine and image are there (scripts/docker-engine.sh build-image),
 * otherwise skipped loudly; under CI=true a missing engine fails.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { dockerClient } from "./docker";
import { createSpawner, execute, jupyterApi, jupyterFetch, startKernel, waitForReady, type BackendName, type BackendOptions, type JupyterTarget, type SpawnSpec, type Spawner } from "./index";
import { dockerHost, dockerUnavailable, expectInlinePng, image, isRoot, specMaker, spawnerScratch } from "./test-helpers";

const dockerWhy = await dockerUnavailable();
if (dockerWhy && process.env.CI === "true") throw new Error(`CI: the docker backend must run here, but: ${dockerWhy}`);
if (dockerWhy) console.warn(`\n*** SKIPPING the docker backend kernelspec tests: ${dockerWhy} ***\n`);

// Under the portal's umask, in a 0711 scratch folder; every spawner started is stopped after the file.
const { base, started } = spawnerScratch("carnet-kernelspec-");

/** pids of `pid` and its descendants (from /proc, as root). */
function tree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      parent.set(Number(e), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const out = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of parent) if (!out.has(p) && out.has(pp)) (out.add(p), (grew = true));
  }
  return [...out];
}

/** The shared objects mapped by every process of the tree (python's C extensions show what was imported). */
function mappedFiles(pid: number): string {
  return tree(pid)
    .map((p) => {
      try {
        return readFileSync(`/proc/${p}/maps`, "utf8");
      } catch {
        return "";
      }
    })
    .join("\n");
}

describe.each([
  { name: "local" as BackendName, skip: null as string | null },
  { name: "docker" as BackendName, skip: dockerWhy },
])("Carnet's python3 kernelspec: $name", ({ name, skip }) => {
  const opts: BackendOptions = {
    instanceId: `k${process.pid}${name[0]}`,
    stateDir: path.join(base, `state-${name}`),
    local: { allowSameUser: !isRoot },
    docker: { host: dockerHost, image },
  };
  /** One counter per backend: ids k1, k2…; uids 24001… (local), 24051… (docker). */
  const nextSpec = specMaker({ base, idPrefix: "k", uidBase: 24_000, memoryMb: 768, tokenFill: "y" });
  const makeSpec = (): SpawnSpec => nextSpec(name, {}, name === "docker" ? 50 : 0);
  /** The host pid of the server's first process (local: the sandbox; docker: the container's init). */
  async function hostPid(s: Spawner): Promise<number> {
    const state = s.getState() as { pid?: number; containerId?: string };
    if (name === "local") return state.pid!;
    return (await dockerClient(dockerHost).getContainer(state.containerId!).inspect()).State.Pid;
  }

  describe.skipIf(skip !== null)("live", { timeout: 180_000 }, () => {
    let spawner: Spawner;
    let t: JupyterTarget;
    let kernel: string;

    it("lists Carnet's kernelspec as python3: ipykernel with debugpy and jedi kept out, no debugger", async () => {
      const spec = makeSpec();
      spawner = createSpawner(name, spec, opts);
      started.push(spawner);
      const { url } = await spawner.start();
      await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 60_000, isAlive: async () => (await spawner.poll()).running });
      t = { url, baseUrl: spec.baseUrl, token: spec.token };
      const specs = (await (await jupyterApi(t, "GET", "kernelspecs")).json()) as {
        default: string;
        kernelspecs: Record<string, { spec: { argv: string[]; display_name: string; metadata?: { debugger?: boolean } } }>;
      };
      expect(specs.default).toBe("python3");
      const py = specs.kernelspecs.python3!.spec;
      // Carnet's kernel: argv runs carnet_kernel.py from the kernelspec's own (root-owned) folder.
      expect(py.argv[0]).toBe("/usr/bin/python3");
      expect(py.argv.join(" ")).toContain("carnet_kernel.py");
      expect(py.argv).toContain("{resource_dir}");
      expect(py.metadata?.debugger).toBe(false);
      expect(py.display_name).toBe("Python 3 (ipykernel)");
    });

    it("runs numpy, pandas and matplotlib with an inline PNG plot; `import debugpy` is refused; Tab still completes", async () => {
      kernel = await startKernel(t);
      const r = await execute(
        t,
        kernel,
        [
          "import numpy, pandas, matplotlib",
          "import matplotlib.pyplot as plt",
          "df = pandas.DataFrame({'x': numpy.arange(5), 'y': numpy.arange(5) ** 2})",
          "print(int(df.y.sum()))",
          "plt.plot(df.x, df.y); plt.show()",
        ].join("\n"),
        120_000,
      );
      expect(r.error).toBeUndefined();
      expect(r.stdout).toContain("30");
      expectInlinePng(r);

      const dbg = await execute(t, kernel, "import debugpy");
      expect(dbg.status).toBe("error");
      expect(dbg.error).toMatch(/^(ModuleNotFoundError|ImportError)/);
      // What the classic UI's Tab asks the kernel (complete_request) goes through IPython's completer.
      const tab = await execute(t, kernel, "import sys\nprint(sys.modules.get('jedi') is not None, 'numpy.array' in get_ipython().complete('numpy.arr')[1])");
      expect(tab.stdout.trim()).toBe("False True");
      // IPython's terminal shell is not loaded at start, and is there when asked for; the student's folder is on
      // sys.path as with Debian's kernelspec; the launcher's own names are not in the student's namespace.
      const lazy = await execute(
        t,
        kernel,
        [
          "import sys, IPython",
          "before = 'prompt_toolkit' in sys.modules",
          "from IPython.terminal.embed import InteractiveShellEmbed",
          "print(before, callable(IPython.embed), InteractiveShellEmbed.__module__, 'prompt_toolkit' in sys.modules, sys.path[0] == '', 'kernelapp' in dir(), '_on_demand' in dir())",
        ].join("\n"),
      );
      expect(lazy.error).toBeUndefined();
      expect(lazy.stdout.trim()).toBe("False True IPython.terminal.embed True True False False");
    });

    it("the notebook page lists nbconvert's formats without importing nbconvert into the server; a download still works", async () => {
      const nb = JSON.stringify({ cells: [{ cell_type: "markdown", id: "a1", metadata: {}, source: "# Titre" }], metadata: {}, nbformat: 4, nbformat_minor: 5 });
      const put = await jupyterApi(t, "PUT", "contents/menu.ipynb", { type: "notebook", format: "json", content: JSON.parse(nb) });
      expect(put.ok).toBe(true);
      const page = await jupyterFetch(t, "GET", "notebooks/menu.ipynb");
      const html = await page.text();
      expect(page.status).toBe(200);
      for (const id of ["download_html", "download_pdf", "download_script", "download_markdown", "download_notebook", "download_webpdf"]) expect(html).toContain(`id="${id}"`);
      // Nor GObject introspection (send2trash's GIO back-end, refused by Carnet's sitecustomize.py in the server).
      if (isRoot) expect(mappedFiles(await hostPid(spawner))).not.toMatch(/lxml|libgio|_gi\./);
      const dl = await jupyterFetch(t, "GET", "nbconvert/markdown/menu.ipynb?download=true");
      expect(dl.status).toBe(200);
      expect(await dl.text()).toContain("# Titre");
      // Deleting still works (send2trash without GIO), and the kernel never sees the server's PYTHONPATH.
      expect((await jupyterFetch(t, "DELETE", "api/contents/menu.ipynb")).status).toBe(204);
      expect((await jupyterFetch(t, "GET", "api/contents/menu.ipynb")).status).toBe(404);
      const env = await execute(t, kernel, "import os, sys\nprint(os.environ.get('PYTHONPATH'), any('carnet-server' in p for p in sys.path))");
      expect(env.stdout.trim()).toBe("None False");
    });

    it.skipIf(!isRoot)("the server and its kernel never loaded debugpy (no pydevd extension mapped in any of their processes)", async () => {
      const maps = mappedFiles(await hostPid(spawner));
      expect(maps).toMatch(/python3/);
      // The kernel has numpy loaded: the processes were read.
      expect(maps).toMatch(/numpy/);
      expect(maps).not.toMatch(/pydevd/);
    });

    it("a kernelspec the student plants in their home or folder is not used by the next kernel", async () => {
      const plant = await execute(
        t,
        kernel,
        [
          "import json, os",
          "evil = {'argv': ['/bin/sh', '-c', 'touch /tmp/pwned; exec /usr/bin/python3 -m ipykernel_launcher -f {connection_file}'], 'display_name': 'Python 3 (ipykernel)', 'language': 'python'}",
          "for d in [os.path.expanduser('~/.local/share/jupyter/kernels/python3'), os.path.expanduser('~/.jupyter/kernels/python3'), os.path.join(os.getcwd(), 'kernels', 'python3')]:",
          "    os.makedirs(d, exist_ok=True)",
          "    json.dump(evil, open(os.path.join(d, 'kernel.json'), 'w'))",
          "print('planted')",
        ].join("\n"),
      );
      expect(plant.stdout).toContain("planted");
      const specs = (await (await jupyterApi(t, "GET", "kernelspecs")).json()) as { kernelspecs: Record<string, { spec: { argv: string[] } }> };
      expect(specs.kernelspecs.python3!.spec.argv[0]).toBe("/usr/bin/python3");
      const k2 = await startKernel(t);
      const r = await execute(t, k2, "import os\nprint(os.path.exists('/tmp/pwned'))");
      expect(r.stdout.trim()).toBe("False");
      await spawner.stop();
    });
  });

  if (skip) it.skip(`docker backend skipped: ${skip}`, () => {});
});

/**
 * Plain JavaScript for the supervisor's own children (docs/operations.md, "Weight"). The proxy and the render worker
 * are TypeScript; run through tsx, each process (and each worker thread) carries tsx's loader thread, esbuild and the
 * compiled sources in memory: about 40 MiB of resident memory per process for nothing once they are loaded. At start
 * the supervisor bundles each entry once with esbuild (the one tsx depends on; our files bundled, npm packages left
 * as imports), into `node_modules/.cache/carnet/<name>-<hash>.mjs` where Node resolves those packages as from the
 * repository. A bundle that fails falls back to tsx, said in the log: never a portal that does not start.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

type Esbuild = typeof import("esbuild");

/** esbuild as tsx resolves it (tsx is a dependency of the portal; esbuild only one of tsx). */
function loadEsbuild(root: string): Esbuild {
  const fromTsx = createRequire(createRequire(path.join(root, "package.json")).resolve("tsx/package.json"));
  return fromTsx("esbuild") as Esbuild;
}

export interface Prebuilt {
  /** What to give `node`: the bundle, or the tsx fallback (`--import tsx <entry>`). */
  args: string[];
  /** The bundle's path, when there is one. */
  file?: string;
  /** Why the fallback was taken. */
  error?: string;
}

/**
 * Bundles each entry (relative to `root`) for Node 20 as ESM, one after the other with one esbuild service, stopped at
 * the end. A file name carries the hash of its content: two portals started from one checkout never overwrite each
 * other's running file, and an unchanged bundle is not rewritten.
 */
export async function prebuild(root: string, entries: { entry: string; name: string }[]): Promise<Prebuilt[]> {
  let esbuild: Esbuild | undefined;
  // esbuild's service process is unref'd: with nothing else pending, Node would exit in the middle of the await.
  const keepAlive = setInterval(() => undefined, 1000);
  const out: Prebuilt[] = [];
  try {
    for (const { entry, name } of entries) {
      const fallback = ["--import", "tsx", path.join(root, entry)];
      try {
        esbuild ??= loadEsbuild(root);
        const built = await esbuild.build({
          entryPoints: [path.join(root, entry)],
          absWorkingDir: root,
          bundle: true,
          packages: "external",
          platform: "node",
          format: "esm",
          target: "node20",
          write: false,
          logLevel: "silent",
          // Stack traces keep function and class names.
          keepNames: true,
          legalComments: "none",
        });
        const code = built.outputFiles[0]!.contents;
        const hash = createHash("sha256").update(code).digest("hex").slice(0, 16);
        const dir = path.join(root, "node_modules", ".cache", "carnet");
        const file = path.join(dir, `${name}-${hash}.mjs`);
        if (!fs.existsSync(file)) {
          fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
          const tmp = `${file}.${process.pid}.tmp`;
          fs.writeFileSync(tmp, code, { mode: 0o644 });
          // Whatever the umask (Carnet's processes run with 066): a portal run by another user (a site without root,
          // the tests' non-root portal) must read the bundle a root run made in the same checkout.
          fs.chmodSync(tmp, 0o644);
          fs.renameSync(tmp, file);
        }
        for (const p of [dir, file]) {
          try {
            fs.chmodSync(p, p === dir ? 0o755 : 0o644);
          } catch {
            // not ours: readable or not, checked next
          }
        }
        fs.accessSync(file, fs.constants.R_OK); // unreadable (made by another user, 0600): tsx below
        out.push({ args: [file], file });
      } catch (e) {
        out.push({ args: fallback, error: e instanceof Error ? e.message.split("\n")[0] : String(e) });
      }
    }
  } finally {
    // esbuild keeps its service process for later calls: none come.
    await Promise.resolve(esbuild?.stop()).catch(() => undefined);
    clearInterval(keepAlive);
  }
  return out;
}

export interface LaunchPlan {
  /** `node` arguments before Next's own (`node_modules/next/dist/bin/next start …`). */
  nextFlags: string[];
  /** `node` arguments of the proxy, flags and entry. */
  proxyArgs: string[];
  /** Added to both children's environment. */
  env: Record<string, string>;
  /** What went differently than planned (a bundle that fell back to tsx), for the log. */
  notes: string[];
}

/**
 * How the supervisor starts Next.js and the proxy: plain JavaScript where it can (the proxy's bundle; the render
 * worker's, given to Next as CARNET_RENDER_WORKER unless set), Node's heap sized for each (see docs/operations.md,
 * "Weight", for what each flag saved), and with CARNET_MEMORY_REPORT=1 the SIGUSR2 memory report preloaded.
 */
export async function launchPlan(root: string, environment: Record<string, string | undefined> = process.env): Promise<LaunchPlan> {
  const ownWorker = !environment.CARNET_RENDER_WORKER;
  const [proxy, worker] = await prebuild(root, [
    { entry: "proxy/main.ts", name: "proxy" },
    ...(ownWorker ? [{ entry: "server/notebooks/render-worker.ts", name: "render-worker" }] : []),
  ]);
  if (!proxy) throw new Error("unreachable: no proxy bundle");
  const notes: string[] = [];
  if (proxy.error) notes.push(`proxy: bundle failed (${proxy.error}), started with tsx`);
  if (worker?.error) notes.push(`render worker: bundle failed (${worker.error}), started with tsx`);
  const env: Record<string, string> = {};
  if (worker?.file) env.CARNET_RENDER_WORKER = worker.file;
  const report = environment.CARNET_MEMORY_REPORT === "1" ? ["--import", path.join(root, "server/cli/memory-report.mjs")] : [];
  const flags = (name: string, defaults: readonly string[]) => {
    const v = environment[name];
    return v === undefined ? [...defaults] : v.split(/\s+/).filter(Boolean);
  };
  return {
    nextFlags: [...flags("CARNET_PORTAL_NODE_FLAGS", PORTAL_FLAGS), ...report],
    proxyArgs: [...flags("CARNET_PROXY_NODE_FLAGS", PROXY_FLAGS), ...report, ...proxy.args],
    env,
    notes,
  };
}

/**
 * Node's flags for Next.js (the portal); CARNET_PORTAL_NODE_FLAGS replaces them. Measured with bench/weight.ts
 * (docs/operations.md, "Weight"), 100 students: -95 MiB PSS idle, -135 MiB at the peak.
 *  - `--liftoff-only`: WebAssembly (PGlite, Prisma's query compiler) runs on V8's baseline compiler only; the
 *    optimizing tier's code and its compilation in the background cost about 70 MiB, and on two cores PGlite's
 *    queries were no slower without it (4.1-4.9 s against 5.4-5.7 s of CPU for the same 3,200 queries).
 *  - `--max-old-space-size=512`: V8 collects as the heap nears 512 MiB instead of letting it grow towards 4 GiB; the
 *    portal's live heap is about 60 MiB idle and 90-120 MiB with 100 students signed in.
 *  - `--max-semi-space-size=4` (MiB, default 16): the young generation stays small between scavenges.
 */
export const PORTAL_FLAGS: readonly string[] = ["--liftoff-only", "--max-old-space-size=512", "--max-semi-space-size=4"];
/** Node's flags for the proxy (live heap about 15 MiB); CARNET_PROXY_NODE_FLAGS replaces them. */
export const PROXY_FLAGS: readonly string[] = ["--max-old-space-size=192", "--max-semi-space-size=2"];

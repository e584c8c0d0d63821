/**
 * Spawn benchmark: `npx tsx bench/spawn.ts` (as root for the uid/cgroup path; DOCKER_HOST for docker).
 * Prints, per backend: start()->ready cold (n=5 in a row, median), 10 at once (median, p95), and RSS of
 * an idle server and after a kernel ran 1+1. JupyterHub is measured as the peer when it is installed.
 * Only 127.0.0.1; every loop is bounded; everything started is stopped.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { dockerClient } from "../spawner/docker";
import { createSpawner, execute, startKernel, waitForReady, type BackendName, type BackendOptions, type Spawner } from "../spawner/index";
import { processTree } from "../spawner/proc";

const COLD = 5;
const BURST = 10;
const base = mkdtempSync(path.join(os.tmpdir(), "carnet-bench-"));
chmodSync(base, 0o711);
const isRoot = process.getuid?.() === 0;
const dockerHost = process.env.DOCKER_HOST;
let seq = 0;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function p95(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}
function rssMiB(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      if (m) kb += Number(m[1]);
    } catch {
      // exited meanwhile
    }
  }
  return kb / 1024;
}

interface Row {
  name: string;
  cold: string;
  burstMedian: string;
  burstP95: string;
  idle: string;
  kernel: string;
}

async function serverPids(backend: BackendName, s: Spawner): Promise<number[]> {
  const st = s.getState();
  if (backend === "local") return processTree(st.pid as number);
  const info = await dockerClient(dockerHost).getContainer(st.containerId as string).inspect();
  return processTree(info.State.Pid);
}

async function benchBackend(backend: BackendName): Promise<Row> {
  const opts: BackendOptions = { instanceId: `bench${process.pid}`, stateDir: path.join(base, `state-${backend}`), docker: { host: dockerHost } };
  const live: Spawner[] = [];
  const one = async (): Promise<{ s: Spawner; ms: number; url: string; baseUrl: string; token: string }> => {
    const id = `b${++seq}`;
    const workDir = path.join(base, id);
    mkdirSync(workDir);
    const spec = {
      id,
      baseUrl: `/nb/${id}/`,
      workDir,
      token: `bench-token-${id}-${"y".repeat(20)}`,
      memoryMb: 1024,
      cpus: 1,
      ...(isRoot ? { uid: 24_000 + seq, gid: 24_000 + seq } : {}),
    };
    const s = createSpawner(backend, spec, opts);
    live.push(s);
    const t0 = performance.now();
    const { url } = await s.start();
    await waitForReady(url, spec.baseUrl, spec.token, { timeoutMs: 120_000, isAlive: async () => (await s.poll()).running });
    return { s, ms: performance.now() - t0, url, baseUrl: spec.baseUrl, token: spec.token };
  };
  try {
    const cold: number[] = [];
    let idle = 0;
    let withKernel = 0;
    for (let i = 0; i < COLD; i++) {
      const r = await one();
      cold.push(r.ms);
      if (i === COLD - 1) {
        idle = rssMiB(await serverPids(backend, r.s));
        const k = await startKernel(r);
        await execute(r, k, "1+1");
        withKernel = rssMiB(await serverPids(backend, r.s));
      }
      await r.s.stop();
    }
    const burst = (await Promise.all(Array.from({ length: BURST }, () => one()))).map((r) => r.ms);
    return {
      name: backend,
      cold: `${(median(cold) / 1000).toFixed(2)} s`,
      burstMedian: `${(median(burst) / 1000).toFixed(2)} s`,
      burstP95: `${(p95(burst) / 1000).toFixed(2)} s`,
      idle: `${idle.toFixed(0)} MiB`,
      kernel: `${withKernel.toFixed(0)} MiB`,
    };
  } finally {
    await Promise.allSettled(live.map((s) => s.stop(2_000)));
  }
}

function notMeasured(name: string, why: string): Row {
  return { name, cold: `not measured: ${why}`, burstMedian: "", burstP95: "", idle: "", kernel: "" };
}

async function dockerWhyNot(): Promise<string | null> {
  if (!dockerHost) return "DOCKER_HOST not set (scripts/docker-engine.sh build-image prints it)";
  try {
    await dockerClient(dockerHost).ping();
    return null;
  } catch (err) {
    return `engine at ${dockerHost} does not answer (${(err as Error).message})`;
  }
}

function hubWhyNot(): string | null {
  if (!existsSync("/usr/bin/jupyterhub")) return "jupyterhub is not installed (apt-get install jupyterhub, plus configurable-http-proxy 5.3 from npm)";
  return "a JupyterHub run is not automated in this bench yet; platform.md reports 1.0 s cold, 12.4 s / 14.6 s for 20 at once, 111 MiB per server";
}

const rows: Row[] = [];
try {
  rows.push(await benchBackend("local"));
  const why = await dockerWhyNot();
  rows.push(why ? notMeasured("docker", why) : await benchBackend("docker"));
  rows.push(notMeasured("jupyterhub", hubWhyNot() ?? ""));
} finally {
  rmSync(base, { recursive: true, force: true });
}

const cpu = os.cpus()[0]?.model ?? "?";
const load = os.loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`\nCarnet spawn benchmark — ${os.cpus().length} cores (${cpu}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${isRoot ? "root: uid + cgroup" : "not root"}, load average at the end ${load}`);
console.log(`start()→ready: cold = median of ${COLD} in a row; burst = ${BURST} started at once. RSS = server process tree.\n`);
const head: Row = { name: "backend", cold: "cold (median)", burstMedian: `${BURST} at once (median)`, burstP95: `${BURST} at once (p95)`, idle: "RSS idle", kernel: "RSS + kernel" };
const cols = Object.keys(head) as (keyof Row)[];
const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
const line = (r: Row) => `| ${cols.map((c) => r[c].padEnd(width[c])).join(" | ")} |`;
console.log(line(head));
console.log(`|${cols.map((c) => "-".repeat(width[c] + 2)).join("|")}|`);
for (const r of rows) console.log(line(r));

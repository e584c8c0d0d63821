/**
 * Open-a-notebook benchmark: `npx tsx bench/open-notebook.ts` (root; a production build; DOCKER_HOST or the private
 * engine of scripts/docker-engine.sh for the docker column). Not a test: it prints a table.
 *
 * What a student waits for, measured in Chromium: from opening the share link (already signed in) to a usable
 * notebook, i.e. the classic notebook page loaded, its kernel connected, and `1+1` answered `2`.
 *  - cold: the student's server is not running (a fresh copy each time: copy + server start + page + kernel);
 *  - warm: the server is already running (open the link again: page + a new kernel session).
 * Median of 5 each, for the local and docker backends, and JupyterHub 3 (Debian's package, SimpleLocalProcessSpawner,
 * dummy authenticator, configurable-http-proxy 5.3 from npm) as the peer, doing the same in the same browser.
 * Memory per student server: the server and its kernel after `1+1` (RSS, cgroup or process tree).
 * Everything listens on 127.0.0.1; everything started is stopped. BENCH_ONLY=local,docker,hub picks columns.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser } from "@playwright/test";
import { startStack, type Stack } from "../e2e/stack";
import { serverIdOf } from "../server/servers/server-id";
import { createActivity, notebookBytes, PASSWORD, serverStatus, stopAllServers, teardown, waitFor } from "../server/servers/live-test-helpers";
import { CHROMIUM_ARGS, hubWhyNot, median, rssTreeMb, signedInPage, startHub, treeOf, usable, type Hub } from "./support";

const N = Number(process.env.BENCH_N ?? 5);

interface Row {
  name: string;
  cold: number[];
  warm: number[];
  memMb: number[];
  /** The same tree's PSS (shared pages divided among the processes sharing them, /proc/<pid>/smaps_rollup). */
  pssMb: number[];
  /** What the portal itself reports (cgroup anonymous memory), for comparison. */
  cgroupMb: number[];
  why?: string;
}

/** PSS of `pid` and its descendants: what the machine holds for them (a shared library counted once overall). */
function pssTreeMb(pid: number): number {
  let kb = 0;
  for (const p of treeOf(pid)) {
    try {
      kb += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

async function benchCarnet(browser: Browser, backend: "local" | "docker"): Promise<Row> {
  const row: Row = { name: `Carnet ${backend}`, cold: [], warm: [], memMb: [], pssMb: [], cgroupMb: [] };
  const env: Record<string, string> = { CARNET_SPAWNER: backend, LOG_LEVEL: "info" };
  if (backend === "docker") {
    let host = process.env.DOCKER_HOST;
    try {
      host = /DOCKER_HOST=(\S+)/.exec(execFileSync(path.resolve(import.meta.dirname, "../scripts/docker-engine.sh"), ["status"], { encoding: "utf8" }))?.[1] ?? host;
      execFileSync("docker", ["-H", host!, "image", "inspect", "carnet-jupyter:latest"], { stdio: "ignore" });
    } catch {
      return { ...row, why: "no Docker engine with carnet-jupyter:latest (scripts/docker-engine.sh build-image)" };
    }
    env.DOCKER_HOST = host!;
  }
  let stack: Stack | undefined;
  let teacherPat: string | undefined;
  try {
    stack = await startStack({ env });
    await stack.addUser("prof", "teacher", PASSWORD);
    teacherPat = await stack.token("prof");
    const activity = await createActivity(stack, teacherPat, `Bench ${backend}`);
    for (let i = 0; i < N; i++) {
      const username = `eleve${i}`;
      await stack.addUser(username, "student", PASSWORD);
      const pat = await stack.token(username);
      const page = await signedInPage(browser, `${stack.url}/connexion`, username, true);
      const nbUrl = /\/nb\/[^/]+\/notebooks\/.+\.ipynb$/;
      row.cold.push(await timed(async () => (await page.goto(activity.shareUrl), await usable(page, nbUrl))));
      const copyId = new URL(page.url()).pathname.split("/")[2]!;
      // Same measure for every column: resident memory of the server's process tree (ps), kernel included.
      const pid = serverPid(stack, backend, copyId, env.DOCKER_HOST);
      row.memMb.push(rssTreeMb(pid));
      row.pssMb.push(pssTreeMb(pid));
      row.cgroupMb.push((await waitFor("memory", async () => (await serverStatus(stack!, pat, copyId)).memoryMb)) ?? NaN);
      const page2 = await page.context().newPage();
      await page.close();
      row.warm.push(await timed(async () => (await page2.goto(activity.shareUrl), await usable(page2, nbUrl))));
      await page2.context().close();
      // One server at a time, as a student arriving in an empty class: the cold start is not slowed by the others.
      await stopAllServers(stack, teacherPat);
    }
  } catch (err) {
    row.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (stack) {
      fs.writeFileSync(`/tmp/carnet-bench-${backend}.log`, stack.logs());
      row.why += ` (portal log in /tmp/carnet-bench-${backend}.log)`;
    }
  } finally {
    await teardown(stack, teacherPat).catch(() => undefined);
  }
  return row;
}

/** Host pid of a Carnet server: the local backend's state, or the container's init process. */
function serverPid(stack: Stack, backend: "local" | "docker", copyId: string, dockerHost?: string): number {
  const state = JSON.parse(fs.readFileSync(path.join(stack.dataDir, "servers", backend, serverIdOf(copyId), "state.json"), "utf8")) as { pid?: number; containerId?: string };
  if (backend === "local") return state.pid!;
  return Number(execFileSync("docker", ["-H", dockerHost!, "inspect", "-f", "{{.State.Pid}}", state.containerId!], { encoding: "utf8" }).trim());
}

async function benchHub(browser: Browser): Promise<Row> {
  const row: Row = { name: "JupyterHub 3.0 (peer)", cold: [], warm: [], memMb: [], pssMb: [], cgroupMb: [] };
  const why = hubWhyNot();
  if (why) return { ...row, why };
  const nb = notebookBytes();
  let hub: Hub | undefined;
  try {
    hub = await startHub();
    const h = hub;
    for (let i = 0; i < N; i++) {
      const username = `eleve${i}`;
      fs.mkdirSync(h.home(username), { recursive: true });
      fs.writeFileSync(path.join(h.home(username), "Exercice.ipynb"), nb);
      // Sign in without spawning (next=/hub/home), so that the cold start is measured from the link.
      const page = await signedInPage(browser, `${h.url}/hub/login?next=%2Fhub%2Fhome`, username, false);
      const link = `${h.url}/user/${username}/notebooks/Exercice.ipynb`;
      const nbUrl = /\/user\/[^/]+\/notebooks\/Exercice\.ipynb$/;
      row.cold.push(await timed(async () => (await page.goto(link), await usable(page, nbUrl))));
      const pid = h.serverPid(username);
      if (!pid) throw new Error(`no single-user server found for ${username}`);
      row.memMb.push(rssTreeMb(pid));
      row.pssMb.push(pssTreeMb(pid));
      const page2 = await page.context().newPage();
      await page.close();
      row.warm.push(await timed(async () => (await page2.goto(link), await usable(page2, nbUrl))));
      await page2.context().close();
      await h.api(`users/${username}/server`, "DELETE");
      await waitFor(`${username}'s hub server stopped`, async () => {
        const j = (await (await h.api(`users/${username}`)).json()) as { servers?: Record<string, unknown> };
        return !j.servers || Object.keys(j.servers).length === 0;
      }, 60_000, 300);
    }
  } catch (err) {
    row.why = `failed: ${(err as Error).message.split("\n")[0]}`;
    if (hub) fs.writeFileSync("/tmp/carnet-bench-hub.log", hub.logs());
  } finally {
    await hub?.stop();
  }
  return row;
}

function fmt(x: number, unit: string, digits = 2) {
  return Number.isFinite(x) ? `${x.toFixed(digits)} ${unit}` : "—";
}

async function main() {
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_ARGS });
  const rows: Row[] = [];
  try {
    // BENCH_ONLY=local,docker,hub runs a subset.
    const only = new Set((process.env.BENCH_ONLY ?? "local,docker,hub").split(","));
    if (only.has("local")) rows.push(await benchCarnet(browser, "local"));
    if (only.has("docker")) rows.push(await benchCarnet(browser, "docker"));
    if (only.has("hub")) rows.push(await benchHub(browser));
  } finally {
    await browser.close();
  }
  const ref = rows.find((r) => r.name.startsWith("JupyterHub") && !r.why && r.cold.length);
  const ratio = (a: number, b: number | undefined) => (b && Number.isFinite(a) ? `×${(a / b).toFixed(2)}` : "");
  console.log(`\nOpening a share link to a usable notebook (classic UI loaded, kernel connected, 1+1 = 2), Chromium, median of ${N}`);
  console.log(`machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.release()}, ${new Date().toISOString().slice(0, 10)}\n`);
  const head = ["", "cold (server not running)", "warm (server running)", "memory per student server*", "its PSS**"];
  const lines = rows.map((r) =>
    r.why && !r.cold.length
      ? [r.name, `not measured: ${r.why}`, "", "", ""]
      : [
          r.name,
          `${fmt(median(r.cold), "s")} ${ref && r !== ref ? ratio(median(r.cold), median(ref.cold)) : ""}`.trim(),
          `${fmt(median(r.warm), "s")} ${ref && r !== ref ? ratio(median(r.warm), median(ref.warm)) : ""}`.trim(),
          `${fmt(median(r.memMb), "MiB", 0)} ${ref && r !== ref ? ratio(median(r.memMb), median(ref.memMb)) : ""}`.trim(),
          `${fmt(median(r.pssMb), "MiB", 0)} ${ref && r !== ref ? ratio(median(r.pssMb), median(ref.pssMb)) : ""}`.trim(),
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const pr = (cells: string[]) => console.log(cells.map((c, i) => c.padEnd(widths[i]!)).join(" | "));
  pr(head);
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const l of lines) pr(l);
  console.log(`\n* the server and its kernel after 1+1: resident memory of the process tree (ps RSS, shared pages counted in each). Ratios are to JupyterHub (lower is better).`);
  console.log(`** the same processes' PSS (smaps_rollup): shared pages (python's and the libraries' code, shared with every other python on the machine) divided among the processes mapping them; fairer to the side whose pages others share, printed beside RSS, which stays the headline figure.`);
  for (const r of rows) if (r.why && r.cold.length) console.log(`note: ${r.name}: ${r.why}`);
  for (const r of rows) if (r.cold.length) console.log(`raw ${r.name}: cold ${r.cold.map((x) => x.toFixed(2)).join(" ")} s; warm ${r.warm.map((x) => x.toFixed(2)).join(" ")} s; memory ${r.memMb.map((x) => x.toFixed(0)).join(" ")} MiB (PSS ${r.pssMb.map((x) => x.toFixed(0)).join(" ")})${r.cgroupMb.length ? ` (portal's cgroup figure: ${r.cgroupMb.map((x) => x.toFixed(0)).join(" ")} MiB)` : ""}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

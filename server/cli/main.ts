/**
 * `./carnet <command>`: the command line. `start` runs the portal (the proxy on the public port, Next.js behind it);
 * other commands run here, or inside the running portal when it holds the embedded database (PGlite allows one
 * process per data directory).
 */
import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { spawn, type ChildProcess } from "node:child_process";
import { ConfigError, parseEnv, setEnv, type Env } from "../env";
import { applySiteUmask, blockedFolder, blockedMessage, prepareDataDir } from "../data-dir";
import { logger } from "../logger";
import { launchPlan } from "./launch";

// Before any file is written: nothing Carnet creates is readable by students' servers (server/data-dir.ts). The
// supervisor's children (Next.js, the proxy) inherit it.
applySiteUmask();

const root = path.resolve(import.meta.dirname, "../..");

function fail(message: string, code = 1): never {
  process.stderr.write(message.endsWith("\n") ? message : message + "\n");
  process.exit(code);
}

function loadEnv(): Env {
  try {
    const e = parseEnv();
    setEnv(e);
    return e;
  } catch (e) {
    if (e instanceof ConfigError) fail(e.message, 2);
    throw e;
  }
}

const runFile = (e: Env) => path.join(e.dataDir, "run", "portal.json");

function runningPortal(e: Env): { pid: number; internalPort: number } | null {
  try {
    const info = JSON.parse(fs.readFileSync(runFile(e), "utf8")) as { pid: number; internalPort: number };
    process.kill(info.pid, 0);
    return info;
  } catch {
    return null;
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) return "";
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function command(argv: string[]) {
  const e = loadEnv();
  const stdin = argv.includes("--password-stdin") ? await readStdin() : undefined;
  // stop-all always goes to a running portal: its warm pool, its starts under way and its slots live in that process
  // (the pool is paused there until « Reprendre » or a restart; docs/operations.md « The warm pool »).
  const inPortal = !e.DATABASE_URL || (argv[0] === "servers" && argv[1] === "stop-all");
  const portal = inPortal ? runningPortal(e) : null;
  if (portal) {
    // The portal holds the embedded database (or the command is about the portal's own state): let it run the command.
    const res = await fetch(`http://127.0.0.1:${portal.internalPort}/api/internal/cli`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-carnet-proxy-secret": e.proxySecret },
      body: JSON.stringify({ argv, stdin }),
    }).catch(() => null);
    if (!res) fail("Le portail semble démarré mais ne répond pas ; réessayez dans un instant.");
    const body = (await res.json()) as { output?: string; error?: { message: string } };
    if (!res.ok) fail(body.error?.message ?? "Erreur", 1);
    console.log(body.output);
    return;
  }
  // Loaded here only: the supervisor of `start` never holds the database (see prepareDatabase).
  const { closeDb } = await import("../db");
  const { runCommand } = await import("./commands");
  const { isAppError } = await import("../errors");
  const { ZodError } = await import("zod");
  try {
    console.log(await runCommand({ argv, stdin }));
  } catch (err) {
    if (isAppError(err)) fail(err.message);
    if (err instanceof ZodError) fail(err.issues.map((i) => i.message).join("\n"));
    throw err;
  } finally {
    await closeDb();
  }
}

/** On an empty database, creates an admin account and says how to sign in. */
async function firstAdmin(e: Env): Promise<string | null> {
  const { db } = await import("../db");
  const { createUser } = await import("../users");
  if ((await db().user.count()) > 0) return null;
  const password = crypto.randomBytes(12).toString("base64url");
  await createUser({ username: "admin", role: "ADMIN", name: "Administrateur", password });
  const file = path.join(e.dataDir, "secrets", "initial-admin-password");
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, password + "\n", { mode: 0o600 });
  return password;
}

/**
 * Stops the start when students' servers could not work or would not be isolated: a folder above the data dir that
 * their uids cannot cross; says out loud when they will run as the portal's own user.
 */
function isolationChecks(e: Env) {
  if (e.CARNET_SPAWNER !== "local") return; // containers get their copy as a mount: the host's folders do not matter
  if (process.getuid?.() === 0) {
    const blocked = blockedFolder(e.dataDir);
    if (blocked) fail(blockedMessage(e.dataDir, blocked), 2);
  } else if (e.CARNET_ALLOW_SHARED_UID)
    console.error(
      "carnet: ATTENTION : le portail ne tourne pas en root ; les serveurs des élèves tourneront sous le même utilisateur que lui " +
        "(CARNET_ALLOW_SHARED_UID=true) : un élève pourra lire les secrets, la base et les copies des autres. À réserver à un poste personnel.",
    );
  else
    console.error(
      "carnet: le portail ne tourne pas en root : il ne peut pas donner à chaque élève son propre utilisateur Unix, les carnets " +
        "ne démarreront pas. Lancez-le en root, ou utilisez CARNET_SPAWNER=docker, ou (poste personnel seulement) CARNET_ALLOW_SHARED_UID=true.",
    );
}

/**
 * When the site stops: the host firewall rules, IPv4 forwarding and docker bridge network that servers with Internet
 * access needed are removed (spawner/egress.ts cleanupEgress), unless a server still uses them (servers outlive the
 * portal by design: then they stay, and the next stop removes them).
 */
async function cleanupNetwork(e: Env): Promise<void> {
  if (process.getuid?.() !== 0) return;
  try {
    if (e.CARNET_SPAWNER === "docker") {
      const { removeEgressNetworkIfUnused } = await import("../../spawner/docker");
      await removeEgressNetworkIfUnused(e.CARNET_DOCKER_HOST ?? process.env.DOCKER_HOST);
    }
    const { cleanupEgress } = await import("../../spawner/egress");
    await cleanupEgress({ logger: logger.child({ part: "egress" }) });
  } catch (err) {
    console.error(`carnet: nettoyage du réseau des serveurs incomplet : ${String(err)}`);
  }
}

/** The internal command `start` runs in a child process: migrations and the first admin account. */
const PREPARE_DB = "__prepare-db";
const PREPARED = "carnet-prepared ";

/** In the child: migrates, creates the first admin when the base is empty, says so on one line, exits. */
async function prepareDb() {
  const e = loadEnv();
  const { closeDb, ensureMigrated } = await import("../db");
  await ensureMigrated();
  const adminPassword = await firstAdmin(e);
  await closeDb();
  process.stdout.write(`${PREPARED}${JSON.stringify({ adminPassword })}\n`);
  process.exit(0);
}

/**
 * Migrations and the first admin account, in a child process that exits: the database (PGlite's WebAssembly memory
 * after initdb and the migrations, Prisma) would otherwise stay in the supervisor for its whole life, about 800 MiB
 * of RSS for nothing (docs/operations.md, "Weight"). Resolves with the new admin's password, or null.
 */
async function prepareDatabase(): Promise<string | null> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/cli/main.ts"), PREPARE_DB], {
    cwd: root,
    env: process.env,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
  let adminPassword: string | null = null;
  for (const line of out.split("\n")) {
    if (line.startsWith(PREPARED)) adminPassword = (JSON.parse(line.slice(PREPARED.length)) as { adminPassword: string | null }).adminPassword;
    else if (line) process.stdout.write(`${line}\n`);
  }
  if (code !== 0) fail(`carnet: la préparation de la base a échoué (code ${code}).`, code ?? 1);
  return adminPassword;
}

async function start() {
  const e = loadEnv();
  if (runningPortal(e)) fail(`Un portail utilise déjà ${e.dataDir} (voir ${runFile(e)}).`);
  const repairs = prepareDataDir(e.dataDir); // the data dir itself and copies/ get their modes here
  isolationChecks(e);
  const adminPassword = await prepareDatabase();
  if (repairs.length)
    logger.child({ part: "datadir" }).warn({ count: repairs.length, repairs: repairs.slice(0, 50) }, "data dir permissions repaired (students' servers could read or change these)");

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CARNET_DATA_DIR: e.dataDir,
    AUTH_SECRET: e.authSecret,
    CARNET_PROXY_SECRET: e.proxySecret,
    AUTH_URL: `${e.publicUrl}/api/auth`,
    AUTH_TRUST_HOST: "true",
    CARNET_PUBLIC_URL: e.publicUrl,
    CARNET_INTERNAL_PORT: String(e.internalPort),
    CARNET_PROXY_API_PORT: String(e.proxyApiPort),
    PORT: String(e.PORT),
    NEXT_TELEMETRY_DISABLED: "1",
  };
  // A small supervisor: Next.js and the proxy are separate processes; either one that dies is restarted alone
  // (a redeploy of the portal does not cut open notebooks), unless it keeps dying.
  const children = new Map<string, ChildProcess>();
  const deaths: number[] = [];
  let stopping = false;
  const stopAll = (code: number) => {
    if (stopping) return;
    stopping = true;
    const alive = [...children.values()].filter((c) => c.exitCode === null && c.signalCode === null);
    for (const c of alive) c.kill("SIGTERM");
    setTimeout(() => {
      for (const c of alive) if (c.exitCode === null) c.kill("SIGKILL");
      fs.rmSync(runFile(e), { force: true });
      process.exit(code);
    }, 8000).unref();
    void Promise.all(alive.map((c) => new Promise((r) => c.once("exit", r))))
      .then(() => cleanupNetwork(e))
      .then(() => {
        fs.rmSync(runFile(e), { force: true });
        process.exit(code);
      });
  };
  const writeRunFile = () => {
    fs.mkdirSync(path.dirname(runFile(e)), { recursive: true, mode: 0o700 });
    fs.writeFileSync(
      runFile(e),
      JSON.stringify({ pid: process.pid, nextPid: children.get("next")?.pid, proxyPid: children.get("proxy")?.pid, internalPort: e.internalPort, publicUrl: e.publicUrl }),
      { mode: 0o600 },
    );
  };
  const launch = (name: string, cmd: string, args: string[]) => {
    const c = spawn(cmd, args, { cwd: root, env: childEnv, stdio: ["ignore", "inherit", "inherit"] });
    c.on("exit", (code, signal) => {
      if (stopping) return;
      const now = Date.now();
      deaths.push(now);
      while (deaths.length && deaths[0]! < now - 60_000) deaths.shift();
      if (deaths.length > 5) {
        console.error(`carnet: ${name} s'arrête sans cesse (${signal ?? code}) ; arrêt du portail.`);
        return stopAll(1);
      }
      console.error(`carnet: ${name} s'est arrêté (${signal ?? code}) ; redémarrage.`);
      setTimeout(() => {
        if (!stopping) launch(name, cmd, args);
      }, 500);
    });
    children.set(name, c);
    writeRunFile();
    return c;
  };
  // Plain JavaScript bundles and Node's flags for each child (server/cli/launch.ts; docs/operations.md, "Weight").
  const plan = await launchPlan(root);
  for (const note of plan.notes) logger.warn(note);
  Object.assign(childEnv, plan.env);
  launch("next", process.execPath, [...plan.nextFlags, path.join(root, "node_modules/next/dist/bin/next"), "start", "-p", String(e.internalPort), "-H", "127.0.0.1"]);
  launch("proxy", process.execPath, plan.proxyArgs);
  process.on("SIGINT", () => stopAll(0));
  process.on("SIGTERM", () => stopAll(0));

  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !stopping) {
    const ok = await fetch(`http://127.0.0.1:${e.PORT}/api/v1/health`).then((r) => r.ok).catch(() => false);
    if (ok) {
      console.log(`\nCarnet est prêt : ${e.publicUrl}`);
      if (adminPassword)
        console.log(`Compte administrateur créé : identifiant « admin », mot de passe « ${adminPassword} »\n(aussi dans ${path.join(e.dataDir, "secrets", "initial-admin-password")}).`);
      console.log("Arrêt : Ctrl+C.\n");
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) {
    console.error("carnet: le portail n'a pas répondu à temps.");
    stopAll(1);
  }
}

const argv = process.argv.slice(2);
if (argv[0] === "start") await start();
else if (argv[0] === PREPARE_DB) await prepareDb();
else if (!argv[0] || argv[0] === "help" || argv[0] === "--help") console.log((await import("./commands")).USAGE);
else await command(argv);

/**
 * Carnet's own Jupyter configuration (quit button off, logout hidden, server not dumpable, trust in memory, the
 * Carnet banner), installed root-owned and read-only for the local backend. One source: the files of
 * jupyter-image/config/ (and jupyter-image/data/), which the docker image copies to /usr/local/share/carnet/jupyter;
 * the local backend reads the same files at run time and installs them under <stateDir>/jupyter/<hash of them>/.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/**
 * The folder holding Carnet's Jupyter files: `config/` (JUPYTER_CONFIG_DIR) and, when present, `data/`
 * (JUPYTER_DATA_DIR: kernel specs, nbextensions). The repository's jupyter-image/, resolved from the working
 * directory at run time like the render worker (the portal, the CLI and the tests all run from the checkout);
 * CARNET_JUPYTER_FILES_DIR overrides it.
 */
export function jupyterFilesDir(): string {
  return process.env.CARNET_JUPYTER_FILES_DIR || path.join(process.cwd(), "jupyter-image");
}

/** Relative path -> content of every regular file under `dir` (sorted; "" for an absent folder). */
function readTree(dir: string, prefix = ""): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) Object.assign(out, readTree(p, `${prefix}${e.name}/`));
    else if (e.isFile()) out[`${prefix}${e.name}`] = readFileSync(p, "utf8");
  }
  return out;
}

/**
 * Carnet's Jupyter files as installed: "config/<relative path>" and "data/<relative path>" -> content, exactly the
 * files of jupyter-image/config/ and jupyter-image/data/ (what the docker image copies). Read at every call (small).
 */
export function jupyterFiles(): Readonly<Record<string, string>> {
  const base = jupyterFilesDir();
  const config = readTree(path.join(base, "config"));
  if (!config["jupyter_server_config.py"])
    throw new Error(`Carnet's Jupyter configuration is missing: ${path.join(base, "config", "jupyter_server_config.py")} (run from the checkout, or set CARNET_JUPYTER_FILES_DIR)`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(config)) out[`config/${k}`] = v;
  for (const [k, v] of Object.entries(readTree(path.join(base, "data")))) out[`data/${k}`] = v;
  return out;
}

/** Where the docker image installs the same files (JUPYTER_CONFIG_DIR there; JUPYTER_DATA_DIR is ../data). */
export const IMAGE_JUPYTER_DIR = "/usr/local/share/carnet/jupyter";

function hashOf(files: Readonly<Record<string, string>>): string {
  const h = createHash("sha256");
  for (const name of Object.keys(files).sort()) h.update(`${name}\0${files[name]}\0`);
  return h.digest("hex").slice(0, 16);
}

/** Folders 0755 and files 0644 below and including `dir`, whatever the umask they were created under. */
async function publicTree(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) await publicTree(p);
    else if (e.isFile()) await chmod(p, 0o644);
  }
}

/**
 * Installs the configuration under `<stateDir>/jupyter/<hash>/` (config/ and an empty data/), root-owned
 * (when the portal is root), directories 0755 and files 0644 whatever the umask: readable by every student's
 * uid, writable by none. One folder per version, never changed once complete, so running servers keep theirs.
 * Resolves with the folders to give as JUPYTER_CONFIG_DIR and JUPYTER_DATA_DIR. Idempotent.
 */
export async function ensureJupyterConfig(stateDir: string): Promise<{ configDir: string; dataDir: string }> {
  const root = path.join(stateDir, "jupyter");
  const files = jupyterFiles();
  const dir = path.join(root, hashOf(files));
  const done = { configDir: path.join(dir, "config"), dataDir: path.join(dir, "data") };
  if (existsSync(path.join(dir, ".complete"))) {
    // A student who cannot read the config gets a server without it (Jupyter only logs the error): check.
    if (((await stat(path.join(done.configDir, "jupyter_server_config.py"))).mode & 0o777) !== 0o644) await publicTree(dir);
    return done;
  }
  await mkdir(root, { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  const tmp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(tmp, name);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
      await writeFile(file, content, { mode: 0o644 });
    }
    await mkdir(path.join(tmp, "data"), { recursive: true, mode: 0o755 });
    await writeFile(path.join(tmp, ".complete"), "", { mode: 0o644 });
    // The modes above go through the process umask (Carnet's is 066: nothing readable by others by default).
    await publicTree(tmp);
    await rename(tmp, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another start installed the same version meanwhile: keep theirs.
      if (!existsSync(path.join(dir, ".complete"))) throw err;
    });
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return done;
}

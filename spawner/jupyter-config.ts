/**
 * Carnet's own Jupyter configuration (quit button off, logout hidden, server not dumpable, trust in memory),
 * installed root-owned and read-only for the local backend. The files are those of jupyter-image/config/, which
 * the docker image copies to /usr/local/share/carnet/jupyter/config; jupyter-config.test.ts checks they are equal.
 * Embedded rather than read from the repository at run time: the portal runs from a Next.js bundle.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";

/** Relative path -> content, exactly the files of jupyter-image/config/. */
export const JUPYTER_CONFIG_FILES: Readonly<Record<string, string>> = {
  "jupyter_server_config.py": String.raw`# Carnet's configuration of every student's Jupyter server (nbclassic on jupyter_server).
# Root-owned and read-only where it is installed (JUPYTER_CONFIG_DIR): the student, whose kernels run as the
# same uid as the server, cannot change what their server does or serves. The same file is used by the local
# backend (copied to <stateDir>/jupyter/config by spawner/jupyter-config.ts, which embeds it) and the docker
# image (/usr/local/share/carnet/jupyter/config). Per-server options (socket, base_url, root_dir) come from the
# command line. docs/spawner.md, "Jupyter's own configuration".
import ctypes
import os

c = get_config()  # noqa: F821 (provided by traitlets when it runs this file)

# No "Quit" (Carnet stops servers), no terminals (a shell the proxy would not see as a kernel).
c.ServerApp.quit_button = False
c.ServerApp.terminals_enabled = False
# The proxy keeps the public Host header; the server is reachable only through the authenticating proxy.
c.ServerApp.allow_remote_access = True
c.ServerApp.allow_root = False
c.ContentsManager.allow_hidden = False

# Notebook trust: the signature database and secret cannot live in the read-only data dir. Kept in memory and
# in the private runtime dir, so nothing a previous session (or the kernel) wrote is trusted after a restart.
c.NotebookNotary.db_file = ":memory:"
c.NotebookNotary.data_dir = os.environ.get("JUPYTER_RUNTIME_DIR", "/tmp")

# Not dumpable: a kernel (same uid, started by this server) can then neither ptrace the server nor read its
# memory or environment through /proc, so it cannot change the code the server runs. Kernels are exec'd and
# become dumpable again: they are the student's. PR_SET_DUMPABLE is 4.
if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
    # Refuse to serve rather than serve unprotected (an exception here would only be logged).
    os.write(2, b"carnet: prctl(PR_SET_DUMPABLE, 0) failed: refusing to start\n")
    os._exit(70)

# Start-up cost (docs/operations.md, "Where a start's CPU goes"). nbclassic and jupyter_client look for the
# legacy ~/.ipython/nbextensions and ~/.ipython/kernels folders, which imports all of IPython into the server
# (about 85 ms of CPU, a quarter of a start) for folders in the student's home that Carnet never uses. Both
# look-ups are written to do without IPython when it cannot be imported: for them, and only them, it cannot
# (anything else in the server, such as nbconvert's highlighting, still imports it).
import sys


class _NoLegacyIPythonPaths:
    callers = frozenset({"nbclassic.notebookapp", "nbclassic.traits", "jupyter_client.kernelspec"})

    def find_spec(self, name, path=None, target=None):
        if name != "IPython" or "IPython" in sys.modules:
            return None
        f = sys._getframe(1)
        while f is not None and f.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
            f = f.f_back
        if f is not None and f.f_globals.get("__name__") in self.callers:
            raise ImportError("carnet: IPython is not imported by the server for legacy ~/.ipython paths")
        return None


sys.meta_path.insert(0, _NoLegacyIPythonPaths())

# The launcher sets SETUPTOOLS_USE_DISTUTILS=stdlib so that the server's own import of distutils (notebook.utils)
# does not pull in setuptools and pkg_resources (about 90 ms of CPU); the student's kernels get the usual one.
os.environ.pop("SETUPTOOLS_USE_DISTUTILS", None)
`,
  "jupyter_notebook_config.py": String.raw`# Carnet's configuration for Debian's notebook 6 (the fallback when nbclassic is missing): the same choices
# as jupyter_server_config.py, under NotebookApp. Root-owned and read-only like it. nbclassic reads this file
# too (as its own NotebookApp's config): it applies only when notebook 6 itself runs.
import ctypes
import os
import sys

c = get_config()  # noqa: F821

if os.path.basename(sys.argv[0]) == "jupyter-notebook":
    c.NotebookApp.quit_button = False
    c.NotebookApp.terminals_enabled = False
    c.NotebookApp.allow_remote_access = True
    c.NotebookApp.allow_root = False
    c.ContentsManager.allow_hidden = False
    c.NotebookNotary.db_file = ":memory:"
    c.NotebookNotary.data_dir = os.environ.get("JUPYTER_RUNTIME_DIR", "/tmp")
    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
        os.write(2, b"carnet: prctl(PR_SET_DUMPABLE, 0) failed: refusing to start\n")
        os._exit(70)
`,
  "custom/custom.css": String.raw`/* Carnet: signing out and stopping happen in Carnet, not in Jupyter (issue 8). Root-owned: a student's
   ~/.jupyter/custom/custom.css is never read. */
#logout,
#login_widget,
#shutdown,
#shutdown_widget {
  display: none !important;
}
`,
  "custom/custom.js": String.raw`// Carnet's custom.js, root-owned and read-only: served instead of anything a student writes in
// ~/.jupyter/custom/custom.js (their config dir is not Jupyter's). Intentionally empty for now.
`,
  "migrated": String.raw``,
};

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
  const dir = path.join(root, hashOf(JUPYTER_CONFIG_FILES));
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
    for (const [name, content] of Object.entries(JUPYTER_CONFIG_FILES)) {
      const file = path.join(tmp, "config", name);
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

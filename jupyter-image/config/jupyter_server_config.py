# Carnet's configuration of every student's Jupyter server (nbclassic on jupyter_server).
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

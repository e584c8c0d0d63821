# Carnet's configuration for Debian's notebook 6 (the fallback when nbclassic is missing): the same choices
# as jupyter_server_config.py, under NotebookApp. Root-owned and read-only like it.
import ctypes
import os

c = get_config()  # noqa: F821

c.NotebookApp.quit_button = False
c.NotebookApp.terminals_enabled = False
c.NotebookApp.allow_remote_access = True
c.NotebookApp.allow_root = False
c.ContentsManager.allow_hidden = False
c.NotebookNotary.db_file = ":memory:"
c.NotebookNotary.data_dir = os.environ.get("JUPYTER_RUNTIME_DIR", "/tmp")

if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:
    # Refuse to serve rather than serve unprotected (an exception here would only be logged).
    os.write(2, b"carnet: prctl(PR_SET_DUMPABLE, 0) failed: refusing to start\n")
    os._exit(70)

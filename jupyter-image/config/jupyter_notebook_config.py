# Carnet's configuration for Debian's notebook 6 (the fallback when nbclassic is missing): the same choices
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

# Carnet: read by the student's Jupyter server only, at Python's start-up, before Jupyter imports anything
# (PYTHONPATH names this root-owned, read-only folder: set by spawner/local.ts and jupyter-image/start-carnet.sh for
# the server's command alone; removed from the environment here, so that the server's kernels, the student's code,
# never see it). docs/operations.md, "Weight".
#
# jupyter_server imports send2trash, which imports GObject introspection (gi, GLib, Gio: about 5 MiB of the server's
# resident memory) for its GIO back-end. send2trash is written to do without it: it then moves files to the
# freedesktop.org trash itself, the same trash folders. (jupyter_server only trashes a file on the same device as the
# server's home, which in Carnet is a private tmpfs: a deleted file is deleted either way.) For that caller, and
# only it, the import is refused; this file runs before any other import can be made by the student's code.
import os
import sys

os.environ.pop("PYTHONPATH", None)


class _CarnetNoGioForTrash:
    callers = frozenset({"send2trash.plat_gio"})

    def find_spec(self, name, path=None, target=None):
        if name != "gi" or name in sys.modules:
            return None
        f = sys._getframe(1)
        while f is not None and f.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
            f = f.f_back
        if f is not None and f.f_globals.get("__name__") in self.callers:
            raise ImportError("carnet: send2trash uses its freedesktop.org trash, without GIO")
        return None


sys.meta_path.insert(0, _CarnetNoGioForTrash())

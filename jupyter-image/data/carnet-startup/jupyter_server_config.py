# What a student's server and kernels load for nothing (docs/operations.md, "Weight"). Read by Jupyter as a second
# configuration folder (JUPYTER_CONFIG_PATH, set by spawner/local.ts and the image), next to Carnet's own
# configuration (JUPYTER_CONFIG_DIR, jupyter-image/config/), root-owned and read-only like it. It goes with
# ../kernels/python3/kernel.json, Carnet's python3 kernelspec:
#  - the kernel is ipykernel without debugpy (JupyterLab's debugger, which the classic UI has not: about 12 MiB and
#    0.1 s of CPU per kernel) and without jedi (IPython's own completer answers Tab: about 5 MiB);
#  - whenever it looks up the kernel named python3 (each kernel start, each notebook page's kernel list),
#    jupyter_client imports ipykernel.kernelspec to compare with ipykernel's built-in spec. That import pulls
#    ipykernel's debugger, debugpy, all of IPython, prompt_toolkit and jedi into the server itself: about 30 MiB of
#    its resident memory and 0.3 s of CPU at the first kernel start. jupyter_client is written to do without it
#    (ImportError: it reads the kernelspec folder as for any other kernel, here Carnet's), so for that caller, and
#    only it, the import is refused.
import sys


class _NoIpykernelSpecInServer:
    callers = frozenset({"jupyter_client.kernelspec"})

    def find_spec(self, name, path=None, target=None):
        if name != "ipykernel.kernelspec" or name in sys.modules:
            return None
        f = sys._getframe(1)
        while f is not None and f.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
            f = f.f_back
        if f is not None and f.f_globals.get("__name__") in self.callers:
            raise ImportError("carnet: the python3 kernel is Carnet's kernelspec (JUPYTER_DATA_DIR/kernels/python3)")
        return None


sys.meta_path.insert(0, _NoIpykernelSpecInServer())

# Carnet's python3 kernel: ipykernel as Debian's kernelspec starts it, minus what the classic UI never uses
# (docs/operations.md, "Weight"). Run by kernel.json next to this file (root-owned, read-only, like it):
#  - debugpy refused: JupyterLab's debugger, which the classic UI has not (about 12 MiB and 0.1 s of CPU per kernel);
#  - jedi refused: IPython's own completer answers Tab (about 5 MiB);
#  - IPython's terminal shell (prompt_toolkit, 116 modules, about 6 MiB) imported on demand: `import IPython` imports
#    IPython.terminal.embed for `IPython.embed`, which a kernel never calls. The module stands in for it until
#    something asks for one of its names (IPython.embed(), `from IPython.terminal.embed import ...`), which then
#    imports the real one and answers from it.
import importlib
import sys
import types

sys.modules["debugpy"] = None
sys.modules["jedi"] = None


def _on_demand(name):
    stand_in = types.ModuleType(name, "Imported on first use (Carnet's kernel, docs/operations.md, 'Weight').")

    def real():
        if sys.modules.get(name) is stand_in:
            del sys.modules[name]
        return importlib.import_module(name)

    def __getattr__(attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(real(), attr)

    def embed(*args, **kwargs):
        return real().embed(*args, **kwargs)

    stand_in.__getattr__ = __getattr__
    stand_in.embed = embed
    return stand_in


if "IPython" not in sys.modules:
    sys.modules["IPython.terminal.embed"] = _on_demand("IPython.terminal.embed")

from ipykernel import kernelapp  # noqa: E402

kernelapp.launch_new_instance()

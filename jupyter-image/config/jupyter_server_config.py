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

# The classic UI in French, whatever the browser's language or the server's LANG (docs/spawner.md, "Language").
# Debian's nbclassic 0.3.2 translates its page templates with gettext but looks for the catalogue in a folder that
# does not exist (notebook/notebook/i18n), and its JavaScript strings come from jupyter_server's i18n folder
# (zh_CN only), chosen by each request's Accept-Language. Both catalogues are in Debian's notebook 6 package
# (notebook/i18n/fr_FR): the templates get its nbui catalogue, every page its nbjs one, for fr_FR always.
def _carnet_french():
    import gettext

    import jupyter_server.base.handlers as server_handlers
    import jupyter_server.i18n as server_i18n
    import notebook

    localedir = os.path.join(os.path.dirname(notebook.__file__), "i18n")
    if not os.path.isfile(os.path.join(localedir, "fr_FR", "LC_MESSAGES", "nbjs.json")):
        return
    server_i18n.I18N_DIR = localedir
    combine = server_i18n.combine_translations
    server_handlers.combine_translations = lambda _accept_language, domain="nbjs": combine("fr-FR", domain)
    try:
        from nbclassic.notebookapp import NotebookApp
    except ImportError:  # notebook 6 itself: it reads jupyter_notebook_config.py and translates by LANG
        return
    prepare = NotebookApp._prepare_templates

    def _prepare_templates(self):
        prepare(self)
        nbui = gettext.translation("nbui", localedir=localedir, languages=["fr_FR"], fallback=True)
        self.jinja2_env.install_gettext_translations(nbui, newstyle=False)

    NotebookApp._prepare_templates = _prepare_templates


_carnet_french()

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

# What a student's server loads for nothing (docs/operations.md, "Weight"). Goes with ../data/kernels/python3/,
# Carnet's python3 kernelspec (ipykernel without debugpy and jedi, IPython's terminal part imported on demand):
# whenever it looks up the kernel named python3 (each kernel start, each notebook page's kernel list),
# jupyter_client imports ipykernel.kernelspec to compare with ipykernel's built-in spec. That import pulls
# ipykernel's debugger, debugpy, all of IPython, prompt_toolkit and jedi into the server itself: about 30 MiB of its
# resident memory and 0.3 s of CPU at the first kernel start. jupyter_client is written to do without it
# (ImportError: it reads the kernelspec folder as for any other kernel, here Carnet's), so for that caller, and only
# it, the import is refused.
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


# The notebook page lists nbconvert's formats in « Télécharger au format » (File > Download as): nbclassic imports
# all of nbconvert for that list at the first page (bs4, html5lib, lxml, chardet, bleach, mistune, nbclient...):
# about 14 MiB of the server's resident memory and 0.6 s of CPU in each cold start, for a menu. With Debian's
# nbconvert 6.5.3 (the only one that ships nbconvert.exporters entry points here), the list it computes is the one
# below, word for word; any other nbconvert, or one already imported, gets nbclassic's own computation. A download
# itself (/nbconvert/...) still imports nbconvert, on demand.
def _carnet_static_exporters():
    import importlib.util
    from collections import namedtuple

    import nbclassic.notebook.handlers as notebook_handlers
    from jupyter_server.transutils import _i18n

    spec = importlib.util.find_spec("nbconvert")
    if spec is None or not spec.origin:
        return
    site = os.path.dirname(os.path.dirname(spec.origin))
    if not any(os.path.isdir(os.path.join(site, f"nbconvert-6.5.3.{kind}")) for kind in ("egg-info", "dist-info")):
        return
    info = namedtuple("ExporterInfo", ["name", "display"])
    known = [
        (name, display)
        for name, display in [
            ("asciidoc", "AsciiDoc (.asciidoc)"),
            ("html", "HTML (.html)"),
            ("latex", "LaTeX (.tex)"),
            ("markdown", "Markdown (.md)"),
            ("notebook", "Notebook (.ipynb)"),
            ("pdf", "PDF via LaTeX (.pdf)"),
            ("rst", "reST (.rst)"),
            ("script", "Script ()"),
            ("slides", "Reveal.js slides (.slides.html)"),
            ("webpdf", "PDF via HTML (.html)"),
        ]
    ]
    computed = notebook_handlers.get_frontend_exporters

    def get_frontend_exporters():
        return computed() if "nbconvert" in sys.modules else sorted(info(n, _i18n(d)) for n, d in known)

    notebook_handlers.get_frontend_exporters = get_frontend_exporters


try:
    _carnet_static_exporters()
except ImportError:  # notebook 6 (no nbclassic): its own computation
    pass

# The launcher sets SETUPTOOLS_USE_DISTUTILS=stdlib so that the server's own import of distutils (notebook.utils)
# does not pull in setuptools and pkg_resources (about 90 ms of CPU); the student's kernels get the usual one.
os.environ.pop("SETUPTOOLS_USE_DISTUTILS", None)


# One notebook, one kernel (docs/operations.md, "The kernel ahead"). Carnet creates the notebook's session as soon
# as the server answers, while the student's browser loads the page; the page then asks for the same path. Jupyter's
# handler looks only at the sessions already saved: a request arriving while another one is still starting the
# kernel would start a second kernel for the same notebook (memory, and the student's variables in the other one).
# Creations for one path are made one at a time; a later one is answered with the session made meanwhile.
def _carnet_one_session_per_path():
    import asyncio

    try:
        from jupyter_server.services.sessions.sessionmanager import SessionManager
    except ImportError:  # notebook 6 itself (not built on jupyter_server)
        return
    create = SessionManager.create_session
    locks = {}  # path -> [lock, number of requests holding or waiting for it]

    async def create_session(self, path=None, name=None, type=None, kernel_name=None, kernel_id=None, **kwargs):
        args = dict(path=path, name=name, type=type, kernel_name=kernel_name, kernel_id=kernel_id, **kwargs)
        if path is None:
            return await create(self, **args)
        entry = locks.setdefault(path, [asyncio.Lock(), 0])
        entry[1] += 1
        try:
            async with entry[0]:
                if await self.session_exists(path=path):
                    return await self.get_session(path=path)
                return await create(self, **args)
        finally:
            entry[1] -= 1
            if entry[1] == 0 and locks.get(path) is entry:
                del locks[path]

    SessionManager.create_session = create_session


_carnet_one_session_per_path()

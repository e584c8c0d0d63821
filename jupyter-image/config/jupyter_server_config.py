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

# The launcher sets SETUPTOOLS_USE_DISTUTILS=stdlib so that the server's own import of distutils (notebook.utils)
# does not pull in setuptools and pkg_resources (about 90 ms of CPU); the student's kernels get the usual one.
os.environ.pop("SETUPTOOLS_USE_DISTUTILS", None)

/**
 * The kernel ahead (issue 10; docs/operations.md « The kernel ahead »): the notebook's session (its python3 kernel)
 * created on a copy's server by Carnet itself, as soon as Jupyter answers, while the student's browser loads the
 * notebook page. nbclassic's own `POST api/sessions` for the same path then finds it and the first cell runs at once:
 * time to the first cell is max(page load, kernel start), not their sum.
 *
 * Used by every start for the student: a cold start and a prepared one (orchestrator.ts startInBackground) and a
 * warm pool slot at claim (pool.ts claimSlot, on its pre-started kernel).
 *
 * Two kernels for one notebook would cost the student memory and hide their variables in the other one. Jupyter
 * (jupyter_server 1.23) has no guard for a session being created: its handler checks the saved sessions only, so a
 * browser's POST arriving while ours is starting the kernel would start a second one. Carnet's Jupyter
 * configuration adds that guard (jupyter-image/config/jupyter_server_config.py: one creation per path at a time, the
 * later request answered with the session made meanwhile). Servers without it (an older docker image) are tidied
 * here: when the path ends with two sessions, ours goes (the browser holds the one it was answered).
 */
import { jupyterApi, type JupyterTarget } from "@/spawner";
import { logger } from "../logger";

const log = logger.child({ part: "servers" });

interface SessionModel {
  id: string;
  path: string;
  kernel: { id: string } | null;
}

/**
 * Creates the notebook's session at `notebookPath` on the server, on the kernel `kernelId` when given (a pool slot's,
 * already running), else on a new python3 kernel. Never throws: a failure is logged and the page makes its own
 * session as before. Resolves to the session's kernel id, or null.
 */
export async function createNotebookSession(t: JupyterTarget, notebookPath: string, kernelId?: string, ctx: Record<string, unknown> = {}): Promise<string | null> {
  try {
    const res = await jupyterApi(t, "POST", "sessions", {
      path: notebookPath,
      type: "notebook",
      name: "",
      kernel: kernelId ? { id: kernelId } : { name: "python3" },
    });
    const ours = (await res.json()) as SessionModel;
    const all = (await (await jupyterApi(t, "GET", "sessions")).json()) as SessionModel[];
    const same = all.filter((s) => s.path === ours.path);
    if (same.length > 1 && same.some((s) => s.id !== ours.id)) {
      // Jupyter without Carnet's guard, and the browser's request came in while ours was starting the kernel.
      log.warn({ ...ctx, sessions: same.length }, "the notebook got two sessions at once: the one made ahead is closed");
      await jupyterApi(t, "DELETE", `sessions/${encodeURIComponent(ours.id)}`);
      return null;
    }
    return ours.kernel?.id ?? null;
  } catch (err) {
    log.warn({ ...ctx, err }, "the notebook's session was not created ahead (the page makes its own)");
    return null;
  }
}

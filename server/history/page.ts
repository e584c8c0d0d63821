/**
 * What the history page of a copy shows (app/copies/[id]/historique): the timeline, what the caller may do (restore,
 * reset and its undo, apply or undo a teacher's update), one point rendered read-only, two points compared cell by
 * cell. Authorization as every copy route (./access.ts).
 */
import "server-only";
import path from "node:path";
import { db } from "../db";
import { isAppError, notFound } from "../errors";
import type { User } from "../generated/prisma/client";
import { renderNotebookPreview } from "../notebooks/render-pool";
import { parseWithStableIds } from "../notebooks/merge-ids";
import { copyForChange, copyForHistory } from "./access";
import { compareNotebooks, type CompareRow } from "./compare";
import { kindOf, type PointKind } from "./snapshots";
import { getFile } from "./store";
import { updateStatus } from "./update";

export const KIND_LABEL: Record<PointKind, string> = {
  save: "Enregistrement",
  submit: "Copie rendue",
  reset: "Réinitialisation",
  update: "Mise à jour de l'activité",
  restore: "Restauration",
};

export interface TimelinePoint {
  id: string;
  at: string;
  kind: PointKind;
  label: string;
  size: number;
  version: number | null;
  /** For a restore: the time of the point it brought back. */
  restoredAt: string | null;
}

/** The page's data. `view`/`compare` name points (`compare` against `view`, or against the newest point). */
export async function historyPage(user: User, copyId: string, q: { view?: string; compare?: string } = {}) {
  const copy = await copyForHistory(user, copyId);
  const canChange = await copyForChange(user, copyId).then(
    () => true,
    (e) => {
      if (isAppError(e) && e.code === "forbidden") return false;
      throw e;
    },
  );
  const rows = await db().snapshot.findMany({ where: { copyId: copy.id }, orderBy: [{ at: "desc" }, { id: "desc" }] });
  const versions = new Map(
    (await db().activityVersion.findMany({ where: { activityId: copy.activityId }, select: { id: true, number: true } })).map((v) => [v.id, v.number]),
  );
  const points: TimelinePoint[] = rows.map((r) => {
    const s = (r.summary ?? {}) as { restoredAt?: string; toVersion?: number; version?: number };
    const kind = kindOf(r);
    const version = r.versionId ? (versions.get(r.versionId) ?? null) : null;
    const label = kind === "update" ? `Mise à jour vers la version ${s.toVersion ?? version ?? "?"}` : kind === "reset" ? `Réinitialisation (version ${s.version ?? version ?? "?"})` : KIND_LABEL[kind];
    return { id: r.id, at: r.at.toISOString(), kind, label, size: Number(r.size), version, restoredAt: s.restoredAt ?? null };
  });
  const update = await updateStatus(user, copyId);
  // "Annuler la réinitialisation" while the latest Carnet change is a reset.
  const lastChange = rows.find((r) => r.kind !== "SAVE" && r.kind !== "SUBMIT");
  const canUndoReset = canChange && lastChange?.kind === "RESET";
  const canUndoUpdate = canChange && update.applied !== null && lastChange?.kind === "UPDATE";
  const canApply = canChange && update.offered !== null && (copy.role === "student" || copy.server === null);

  const byId = new Map(rows.map((r) => [r.id, r]));
  let view: { point: TimelinePoint; html: string } | null = null;
  if (q.view) {
    const r = byId.get(q.view);
    if (!r) throw notFound("Point de l'historique");
    const point = points.find((p) => p.id === r.id)!;
    let html: string;
    if (!r.notebookHash) html = "<p>À ce moment-là, la copie n'avait pas de carnet lisible.</p>";
    else
      html = await renderNotebookPreview(await getFile(r.notebookHash), {
        name: path.posix.basename(r.notebookPath),
        downloadUrl: `/api/v1/copies/${encodeURIComponent(copy.id)}/history/${encodeURIComponent(r.id)}`,
      }).catch((e) => {
        if (isAppError(e)) return `<p>${e.message.replace(/[<>&]/g, "")}</p>`;
        throw e;
      });
    view = { point, html };
  }

  let comparison: { from: TimelinePoint; to: TimelinePoint; rows: CompareRow[] } | null = null;
  if (q.compare) {
    const from = byId.get(q.compare);
    const to = q.view ? byId.get(q.view) : rows[0];
    if (!from || !to) throw notFound("Point de l'historique");
    const load = async (h: string | null) => (h ? parseWithStableIds(await getFile(h), "compare", "notebook.ipynb", { assign: false }).notebook : null);
    const [a, b] = await Promise.all([load(from.notebookHash), load(to.notebookHash)]).catch(() => [null, null]);
    const older = from.at <= to.at ? [a, from, b, to] as const : ([b, to, a, from] as const);
    comparison = {
      from: points.find((p) => p.id === older[1].id)!,
      to: points.find((p) => p.id === older[3].id)!,
      rows: older[0] && older[2] ? compareNotebooks(older[0], older[2]) : [],
    };
  }

  return { copy: { id: copy.id, role: copy.role, running: copy.server !== null, notebookPath: copy.notebookPath }, canChange, canApply, canUndoReset, canUndoUpdate, points, update, view, comparison };
}

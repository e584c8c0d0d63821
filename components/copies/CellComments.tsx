"use client";
/**
 * Comments on the cells of a copy, shown right after their cell in the rendered notebook (the one handed in when
 * there is one). The teacher writes them ("Commenter" under each cell, keyboard reachable); the student reads them
 * once released. A slot is added after each `.nb-notebook > .nb-cell` of the server's HTML and React renders into it
 * through a portal (the notebook's own HTML is untouched).
 *
 * Anchoring: by the cell's nbformat id (`data-cell-id`, server/notebooks/render.ts), so a comment stays on its cell
 * when the student inserts or moves cells above it; comments from before (no id) by position. A comment whose cell
 * is no longer in the notebook shown (deleted by the student, or past a preview cut short) is listed at the end
 * under « Cellule supprimée ».
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { createPortal } from "react-dom";
import { Button } from "@/components/ui/Button";
import { inputClass } from "@/components/ui/Field";
import { cx } from "@/components/ui/cx";
import { callApi } from "@/components/activities/upload";

export type CellComment = { id: string; cellIndex: number; cellId: string | null; text: string };

type Slot = { el: HTMLElement; cellId: string | null };

/** Which rendered cell (index in `slots`) shows this comment, or -1 (its cell is not there). */
export function placeOf(c: Pick<CellComment, "cellId" | "cellIndex">, slots: readonly { cellId: string | null }[]): number {
  if (c.cellId) return slots.findIndex((s) => s.cellId === c.cellId);
  return c.cellIndex < slots.length ? c.cellIndex : -1;
}

export function CellComments({ copyId, canEdit, comments: initial, containerId }: { copyId: string; canEdit: boolean; comments: CellComment[]; containerId: string }) {
  const [comments, setComments] = useState(initial);
  const [slots, setSlots] = useState<Slot[]>([]);
  const [message, setMessage] = useState("");

  useEffect(() => setComments(initial), [initial]);

  useEffect(() => {
    const root = document.getElementById(containerId);
    if (!root) return;
    const cells = [...root.querySelectorAll<HTMLElement>(".nb-notebook > .nb-cell")];
    const made = cells.map((cell, i) => {
      const el = document.createElement("div");
      el.className = "carnet-cell-comments";
      el.dataset.cellIndex = String(i);
      const cellId = cell.dataset.cellId ?? null;
      if (cellId) el.dataset.cellId = cellId;
      cell.insertAdjacentElement("afterend", el);
      return { el, cellId };
    });
    setSlots(made);
    return () => made.forEach((s) => s.el.remove());
  }, [containerId]);

  const api = `/api/v1/copies/${encodeURIComponent(copyId)}/comments`;
  async function add(index: number, text: string): Promise<boolean> {
    const cellId = slots[index]?.cellId ?? null;
    const res = await callApi<CellComment>(api, { method: "POST", body: JSON.stringify(cellId ? { cellId, text } : { cellIndex: index, text }) });
    if (!res.ok) {
      setMessage(res.message);
      return false;
    }
    setComments((c) => [...c, res.data]);
    setMessage(`Commentaire enregistré sur la cellule ${index + 1}.`);
    return true;
  }
  async function remove(c: CellComment, label: string) {
    const res = await callApi(`${api}/${encodeURIComponent(c.id)}`, { method: "DELETE" });
    if (!res.ok) return setMessage(res.message);
    setComments((all) => all.filter((x) => x.id !== c.id));
    setMessage(`Commentaire supprimé (${label}).`);
  }

  const placed = comments.map((c) => ({ c, at: placeOf(c, slots) }));
  const byCell = (i: number) => placed.filter((p) => p.at === i).map((p) => p.c);
  const orphans = placed.filter((p) => p.at < 0).map((p) => p.c);

  return (
    <>
      <p role="status" aria-live="polite" className="sr-only">
        {message}
      </p>
      {slots.map((slot, i) =>
        createPortal(<CellSlot key={i} index={i} comments={byCell(i)} canEdit={canEdit} onAdd={add} onRemove={remove} />, slot.el),
      )}
      {orphans.length > 0 && slots.length > 0 ? (
        <section aria-labelledby="deleted-cells-title" className="mx-auto mt-4 max-w-5xl space-y-2" data-testid="orphan-comments">
          <h3 id="deleted-cells-title" className="font-semibold text-slate-900">
            Commentaires sur des cellules qui ne sont plus dans la copie
          </h3>
          {orphans.map((c) => (
            <CommentBox key={c.id} c={c} label="Cellule supprimée" canEdit={canEdit} onRemove={remove} />
          ))}
        </section>
      ) : null}
      {slots.length === 0 && comments.length > 0 ? (
        <section aria-label="Commentaires sur les cellules" className="mx-auto mt-4 max-w-5xl space-y-2">
          <h3 className="font-semibold text-slate-900">Commentaires du professeur</h3>
          {comments.map((c) => (
            <CommentBox key={c.id} c={c} label={`Cellule ${c.cellIndex + 1}`} canEdit={canEdit} onRemove={remove} />
          ))}
        </section>
      ) : null}
    </>
  );
}

function CommentBox({ c, label, canEdit, onRemove }: { c: CellComment; label: string; canEdit: boolean; onRemove: (c: CellComment, label: string) => Promise<void> }) {
  return (
    <div className="rounded-lg border-l-4 border-amber-500 bg-amber-50 px-3 py-2 text-slate-900" data-testid="cell-comment" data-cell-id={c.cellId ?? undefined}>
      <p className="text-xs font-semibold uppercase tracking-wide text-amber-900">Commentaire du professeur · {label}</p>
      <p className="whitespace-pre-line">{c.text}</p>
      {canEdit ? (
        <button type="button" className="mt-1 text-sm text-red-800 underline" onClick={() => void onRemove(c, label.toLowerCase())} aria-label={`Supprimer le commentaire (${label.toLowerCase()})`}>
          Supprimer
        </button>
      ) : null}
    </div>
  );
}

function CellSlot({
  index,
  comments,
  canEdit,
  onAdd,
  onRemove,
}: {
  index: number;
  comments: CellComment[];
  canEdit: boolean;
  onAdd: (i: number, text: string) => Promise<boolean>;
  onRemove: (c: CellComment, label: string) => Promise<void>;
}) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const [sending, setSending] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  useEffect(() => {
    if (open) area.current?.focus();
  }, [open]);

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (!text.trim() || sending) return;
    setSending(true);
    const ok = await onAdd(index, text.trim());
    setSending(false);
    if (ok) {
      setText("");
      setOpen(false);
    }
  }

  if (!canEdit && comments.length === 0) return null;
  const id = `cell-comment-${index}`;
  return (
    <div className={cx("my-1 space-y-1 pl-2 sm:pl-[5.5rem]")}>
      {comments.map((c) => (
        <CommentBox key={c.id} c={c} label={`cellule ${index + 1}`} canEdit={canEdit} onRemove={onRemove} />
      ))}
      {canEdit && !open ? (
        <button
          type="button"
          onClick={() => setOpen(true)}
          className="rounded px-1 text-sm text-sky-800 underline-offset-2 opacity-70 hover:underline hover:opacity-100 focus-visible:opacity-100 focus-visible:outline-2 focus-visible:outline-sky-600"
          aria-label={`Commenter la cellule ${index + 1}`}
        >
          + Commenter
        </button>
      ) : null}
      {canEdit && open ? (
        <form onSubmit={submit} className="space-y-2 rounded-lg border border-slate-200 bg-slate-50 p-2">
          <label htmlFor={id} className="block text-sm font-medium text-slate-800">
            Commentaire sur la cellule {index + 1}
          </label>
          <textarea
            id={id}
            ref={area}
            value={text}
            maxLength={2000}
            rows={2}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Escape") setOpen(false);
              if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void submit(e);
            }}
            className={cx(inputClass, "min-h-0 text-sm")}
          />
          <div className="flex gap-2">
            <Button type="submit" size="sm" disabled={sending || !text.trim()}>
              {sending ? "Enregistrement…" : "Enregistrer le commentaire"}
            </Button>
            <Button size="sm" variant="ghost" onClick={() => setOpen(false)}>
              Annuler
            </Button>
          </div>
        </form>
      ) : null}
    </div>
  );
}

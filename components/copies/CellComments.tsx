"use client";
/**
 * Comments on the cells of a copy, shown right after each cell of the rendered notebook (the one handed in when there
 * is one). The teacher writes them ("Commenter" under each cell, keyboard reachable); the student reads them once
 * released. The rendered notebook is server HTML with one `.nb-cell` per cell in order, so the n-th one is cell n;
 * a slot is added after each and React renders into it through a portal (the notebook's own HTML is untouched).
 * Comments on a cell that the view does not show (a preview cut short) are listed at the end.
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { createPortal } from "react-dom";
import { Button } from "@/components/ui/Button";
import { inputClass } from "@/components/ui/Field";
import { cx } from "@/components/ui/cx";
import { callApi } from "@/components/activities/upload";

export type CellComment = { id: string; cellIndex: number; cellId: string | null; text: string };

export function CellComments({ copyId, canEdit, comments: initial, containerId }: { copyId: string; canEdit: boolean; comments: CellComment[]; containerId: string }) {
  const [comments, setComments] = useState(initial);
  const [slots, setSlots] = useState<HTMLElement[]>([]);
  const [message, setMessage] = useState("");

  useEffect(() => setComments(initial), [initial]);

  useEffect(() => {
    const root = document.getElementById(containerId);
    if (!root) return;
    const cells = [...root.querySelectorAll<HTMLElement>(".nb-notebook > .nb-cell")];
    const made = cells.map((cell, i) => {
      const slot = document.createElement("div");
      slot.className = "carnet-cell-comments";
      slot.dataset.cellIndex = String(i);
      cell.insertAdjacentElement("afterend", slot);
      return slot;
    });
    setSlots(made);
    return () => made.forEach((s) => s.remove());
  }, [containerId]);

  const api = `/api/v1/copies/${encodeURIComponent(copyId)}/comments`;
  async function add(cellIndex: number, text: string): Promise<boolean> {
    const res = await callApi<CellComment>(api, { method: "POST", body: JSON.stringify({ cellIndex, text }) });
    if (!res.ok) {
      setMessage(res.message);
      return false;
    }
    setComments((c) => [...c, res.data]);
    setMessage(`Commentaire enregistré sur la cellule ${cellIndex + 1}.`);
    return true;
  }
  async function remove(c: CellComment) {
    const res = await callApi(`${api}/${encodeURIComponent(c.id)}`, { method: "DELETE" });
    if (!res.ok) return setMessage(res.message);
    setComments((all) => all.filter((x) => x.id !== c.id));
    setMessage(`Commentaire supprimé (cellule ${c.cellIndex + 1}).`);
  }

  const byCell = (i: number) => comments.filter((c) => c.cellIndex === i);
  const orphans = comments.filter((c) => c.cellIndex >= slots.length);

  return (
    <>
      <p role="status" aria-live="polite" className="sr-only">
        {message}
      </p>
      {slots.map((slot, i) =>
        createPortal(<CellSlot key={i} index={i} comments={byCell(i)} canEdit={canEdit} onAdd={add} onRemove={remove} />, slot),
      )}
      {orphans.length > 0 && slots.length > 0 ? (
        <section aria-label="Autres commentaires" className="mx-auto mt-4 max-w-5xl space-y-2">
          <h3 className="font-semibold text-slate-900">Autres commentaires du professeur</h3>
          {orphans.map((c) => (
            <CommentBox key={c.id} c={c} canEdit={canEdit} onRemove={remove} />
          ))}
        </section>
      ) : null}
      {slots.length === 0 && comments.length > 0 ? (
        <section aria-label="Commentaires sur les cellules" className="mx-auto mt-4 max-w-5xl space-y-2">
          <h3 className="font-semibold text-slate-900">Commentaires du professeur</h3>
          {comments.map((c) => (
            <CommentBox key={c.id} c={c} canEdit={canEdit} onRemove={remove} />
          ))}
        </section>
      ) : null}
    </>
  );
}

function CommentBox({ c, canEdit, onRemove }: { c: CellComment; canEdit: boolean; onRemove: (c: CellComment) => Promise<void> }) {
  return (
    <div className="rounded-lg border-l-4 border-amber-500 bg-amber-50 px-3 py-2 text-slate-900" data-testid="cell-comment">
      <p className="text-xs font-semibold uppercase tracking-wide text-amber-900">Commentaire du professeur · cellule {c.cellIndex + 1}</p>
      <p className="whitespace-pre-line">{c.text}</p>
      {canEdit ? (
        <button type="button" className="mt-1 text-sm text-red-800 underline" onClick={() => void onRemove(c)} aria-label={`Supprimer le commentaire de la cellule ${c.cellIndex + 1}`}>
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
  onRemove: (c: CellComment) => Promise<void>;
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
        <CommentBox key={c.id} c={c} canEdit={canEdit} onRemove={onRemove} />
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

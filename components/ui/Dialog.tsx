"use client";
import { useEffect, useRef, type ReactNode } from "react";

/**
 * A modal dialog on the native <dialog> element: focus is trapped and Escape closes it, by the browser itself.
 * Controlled: `open` shows it, `onClose` is called on Escape, backdrop click or the close button.
 */
export function Dialog({ open, onClose, title, children, labelledBy = "dialog-title" }: { open: boolean; onClose: () => void; title: ReactNode; children: ReactNode; labelledBy?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (open && !d.open) d.showModal();
    if (!open && d.open) d.close();
  }, [open]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={labelledBy}
      onClose={onClose}
      onClick={(e) => {
        if (e.target === ref.current) onClose();
      }}
      className="m-auto w-[min(36rem,calc(100vw-2rem))] rounded-xl border border-slate-200 bg-white p-0 text-slate-900 shadow-xl backdrop:bg-slate-900/40"
    >
      <div className="p-6">
        <h2 id={labelledBy} className="mb-3 text-xl font-semibold">
          {title}
        </h2>
        {children}
      </div>
    </dialog>
  );
}

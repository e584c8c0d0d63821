"use client";
/**
 * Évaluation and appréciation of one copy, edited in place (dashboard row, copy page): labelled fields, saved
 * without reloading the page (PATCH /api/v1/copies/{id}) when the field is left, on Enter (évaluation) or
 * Ctrl+Entrée (appréciation), and after a pause in typing; the outcome is announced politely ("Enregistré").
 * A value changed elsewhere (another tab, the dashboard's refresh) replaces the shown one unless it is being edited.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { cx } from "@/components/ui/cx";
import { inputClass } from "@/components/ui/Field";
import { callApi } from "@/components/activities/upload";

type Field = "evaluation" | "appreciation";
type Status = { kind: "idle" } | { kind: "saving" } | { kind: "saved" } | { kind: "error"; message: string };

const PAUSE_MS = 1500;

export function GradingFields({
  copyId,
  studentName,
  evaluation,
  appreciation,
  layout = "row",
  onSaved,
}: {
  copyId: string;
  studentName: string;
  evaluation: string;
  appreciation: string;
  /** "row": compact, labels for screen readers only (the table's headers show them); "stacked": visible labels. */
  layout?: "row" | "stacked";
  onSaved?: () => void;
}) {
  const [values, setValues] = useState({ evaluation, appreciation });
  const saved = useRef({ evaluation, appreciation });
  const editing = useRef<Field | null>(null);
  const timers = useRef<Partial<Record<Field, ReturnType<typeof setTimeout>>>>({});
  const chain = useRef<Promise<void>>(Promise.resolve());
  const [status, setStatus] = useState<Status>({ kind: "idle" });

  // Values from the server (refresh): take them for fields not being edited and not waiting to be saved.
  useEffect(() => {
    for (const [f, v] of [["evaluation", evaluation], ["appreciation", appreciation]] as const) {
      if (editing.current === f || values[f] !== saved.current[f]) continue;
      saved.current[f] = v;
      setValues((old) => (old[f] === v ? old : { ...old, [f]: v }));
    }
  }, [evaluation, appreciation]); // only when the server's values change

  useEffect(() => () => Object.values(timers.current).forEach((t) => clearTimeout(t)), []);

  function save(f: Field, value: string) {
    clearTimeout(timers.current[f]);
    chain.current = chain.current.then(async () => {
      if (value === saved.current[f]) return;
      setStatus({ kind: "saving" });
      const res = await callApi(`/api/v1/copies/${encodeURIComponent(copyId)}`, { method: "PATCH", body: JSON.stringify({ [f]: value }) });
      if (res.ok) {
        saved.current[f] = value;
        setStatus({ kind: "saved" });
        onSaved?.();
      } else setStatus({ kind: "error", message: res.message });
    });
  }

  function change(f: Field, value: string) {
    setValues((old) => ({ ...old, [f]: value }));
    if (status.kind === "saved") setStatus({ kind: "idle" });
    clearTimeout(timers.current[f]);
    timers.current[f] = setTimeout(() => save(f, value), PAUSE_MS);
  }

  function keys(f: Field, e: KeyboardEvent<HTMLInputElement | HTMLTextAreaElement>) {
    if (e.key === "Enter" && (f === "evaluation" || e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      save(f, values[f]);
    }
  }

  const base = `grade-${copyId}`;
  const stacked = layout === "stacked";
  const label = (text: string, id: string) => (
    <label htmlFor={id} className={stacked ? "mb-1 block font-medium text-slate-800" : "sr-only"}>
      {text}
    </label>
  );
  const statusText =
    status.kind === "saving" ? "Enregistrement…" : status.kind === "saved" ? "Enregistré" : status.kind === "error" ? `Non enregistré : ${status.message}` : "";

  return (
    <div className={cx(stacked ? "space-y-3" : "flex min-w-[18rem] flex-col gap-1.5 sm:flex-row sm:items-start")}>
      <div className={stacked ? "" : "sm:w-24 sm:shrink-0"}>
        {label(stacked ? "Évaluation" : `Évaluation de ${studentName}`, `${base}-eval`)}
        <input
          id={`${base}-eval`}
          value={values.evaluation}
          maxLength={50}
          placeholder="15/20, A…"
          autoComplete="off"
          className={cx(inputClass, !stacked && "px-2 py-1.5 text-sm")}
          onFocus={() => (editing.current = "evaluation")}
          onChange={(e) => change("evaluation", e.target.value)}
          onBlur={() => {
            editing.current = null;
            save("evaluation", values.evaluation);
          }}
          onKeyDown={(e) => keys("evaluation", e)}
          aria-describedby={`${base}-status`}
          data-testid="evaluation-input"
        />
      </div>
      <div className="min-w-0 flex-1">
        {label(stacked ? "Appréciation" : `Appréciation pour ${studentName}`, `${base}-app`)}
        <textarea
          id={`${base}-app`}
          value={values.appreciation}
          maxLength={5000}
          rows={stacked ? 4 : 2}
          placeholder="Appréciation…"
          className={cx(inputClass, "min-h-0", !stacked && "px-2 py-1.5 text-sm")}
          onFocus={() => (editing.current = "appreciation")}
          onChange={(e) => change("appreciation", e.target.value)}
          onBlur={() => {
            editing.current = null;
            save("appreciation", values.appreciation);
          }}
          onKeyDown={(e) => keys("appreciation", e)}
          aria-describedby={`${base}-status`}
          data-testid="appreciation-input"
        />
        <p
          id={`${base}-status`}
          role="status"
          aria-live="polite"
          className={cx("min-h-5 text-sm", status.kind === "error" ? "font-medium text-red-800" : "text-emerald-800")}
          data-testid="grading-status"
        >
          {statusText}
        </p>
      </div>
    </div>
  );
}

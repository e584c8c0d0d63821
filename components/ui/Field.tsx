import type { ComponentProps, ReactNode } from "react";
import { cx } from "./cx";

export const inputClass =
  "block w-full rounded-lg border border-slate-300 bg-white px-3 py-2.5 text-base text-slate-900 shadow-sm " +
  "placeholder:text-slate-400 focus:border-sky-600 focus:outline-3 focus:outline-sky-600/30 " +
  "aria-invalid:border-red-600 disabled:bg-slate-100";

/** A label, the control, and an optional hint linked by aria-describedby (pass hintId to the control). */
export function Field({ label, htmlFor, hint, hintId, children, className }: { label: ReactNode; htmlFor: string; hint?: ReactNode; hintId?: string; children: ReactNode; className?: string }) {
  return (
    <div className={cx("space-y-1.5", className)}>
      <label htmlFor={htmlFor} className="block font-medium text-slate-800">
        {label}
      </label>
      {children}
      {hint ? (
        <p id={hintId} className="text-sm text-slate-600">
          {hint}
        </p>
      ) : null}
    </div>
  );
}

export function Input({ className, ...rest }: ComponentProps<"input">) {
  return <input className={cx(inputClass, className)} {...rest} />;
}

export function Textarea({ className, ...rest }: ComponentProps<"textarea">) {
  return <textarea className={cx(inputClass, "min-h-24", className)} {...rest} />;
}

export function Select({ className, ...rest }: ComponentProps<"select">) {
  return <select className={cx(inputClass, "pr-8", className)} {...rest} />;
}

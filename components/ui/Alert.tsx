import type { ReactNode } from "react";
import { cx } from "./cx";

const tones = {
  error: "border-red-300 bg-red-50 text-red-900",
  info: "border-sky-300 bg-sky-50 text-sky-900",
  success: "border-emerald-300 bg-emerald-50 text-emerald-900",
  warning: "border-amber-300 bg-amber-50 text-amber-950",
};

/** A message box. Errors are announced to screen readers (role="alert"), others politely. */
export function Alert({ tone = "info", children, className, id }: { tone?: keyof typeof tones; children: ReactNode; className?: string; id?: string }) {
  return (
    <div id={id} role={tone === "error" ? "alert" : "status"} className={cx("rounded-lg border px-4 py-3 text-base", tones[tone], className)}>
      {children}
    </div>
  );
}

import type { ComponentProps, ReactNode } from "react";
import { cx } from "./cx";

export function Card({ className, ...rest }: ComponentProps<"section">) {
  return <section className={cx("rounded-xl border border-slate-200 bg-white p-5 shadow-sm sm:p-6", className)} {...rest} />;
}

export function CardTitle({ children, id, className }: { children: ReactNode; id?: string; className?: string }) {
  return (
    <h2 id={id} className={cx("mb-3 text-lg font-semibold text-slate-900", className)}>
      {children}
    </h2>
  );
}

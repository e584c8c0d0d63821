import type { ComponentProps } from "react";
import { cx } from "./cx";

/** A table that scrolls sideways on narrow screens instead of breaking the page. */
export function Table({ className, caption, children, ...rest }: ComponentProps<"table"> & { caption?: string }) {
  return (
    <div className="overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
      <table className={cx("w-full border-collapse text-left text-base", className)} {...rest}>
        {caption ? <caption className="sr-only">{caption}</caption> : null}
        {children}
      </table>
    </div>
  );
}

export function Th({ className, ...rest }: ComponentProps<"th">) {
  return <th scope="col" className={cx("border-b border-slate-200 bg-slate-50 px-4 py-3 text-sm font-semibold text-slate-700", className)} {...rest} />;
}

export function Td({ className, ...rest }: ComponentProps<"td">) {
  return <td className={cx("border-b border-slate-100 px-4 py-3 align-middle text-slate-800", className)} {...rest} />;
}

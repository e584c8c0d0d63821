import Link from "next/link";
import type { ComponentProps } from "react";
import { cx } from "./cx";

export type Variant = "primary" | "secondary" | "danger" | "ghost";
export type Size = "md" | "lg" | "sm";

const base =
  "inline-flex items-center justify-center gap-2 rounded-lg font-medium transition-colors " +
  "focus-visible:outline-3 focus-visible:outline-offset-2 focus-visible:outline-sky-600 " +
  "disabled:cursor-not-allowed disabled:opacity-60 select-none whitespace-nowrap";
const variants: Record<Variant, string> = {
  primary: "bg-sky-700 text-white hover:bg-sky-800 active:bg-sky-900 shadow-sm",
  secondary: "bg-white text-slate-800 border border-slate-300 hover:bg-slate-50 active:bg-slate-100 shadow-sm",
  danger: "bg-red-700 text-white hover:bg-red-800 active:bg-red-900 shadow-sm",
  ghost: "text-sky-800 hover:bg-sky-50 active:bg-sky-100",
};
const sizes: Record<Size, string> = {
  sm: "min-h-9 px-3 text-sm",
  md: "min-h-11 px-4 text-base",
  lg: "min-h-13 px-6 text-lg",
};

/** Class names of a button, for elements that must look like one (links, labels). */
export function buttonClass(variant: Variant = "primary", size: Size = "md", extra?: string): string {
  return cx(base, variants[variant], sizes[size], extra);
}

export function Button({ variant = "primary", size = "md", className, type = "button", ...rest }: ComponentProps<"button"> & { variant?: Variant; size?: Size }) {
  return <button type={type} className={buttonClass(variant, size, className)} {...rest} />;
}

export function ButtonLink({ variant = "primary", size = "md", className, ...rest }: ComponentProps<typeof Link> & { variant?: Variant; size?: Size }) {
  return <Link className={buttonClass(variant, size, className)} {...rest} />;
}

/** A plain <a> styled as a button: for downloads (no client-side navigation). */
export function ButtonAnchor({ variant = "secondary", size = "md", className, ...rest }: ComponentProps<"a"> & { variant?: Variant; size?: Size }) {
  return <a className={buttonClass(variant, size, className)} {...rest} />;
}

import Link from "next/link";

export function BackLink({ href, children }: { href: string; children: string }) {
  return (
    <Link href={href} className="inline-flex items-center gap-1 text-sky-800 underline-offset-4 hover:underline focus-visible:outline-3 focus-visible:outline-sky-600">
      <span aria-hidden="true">←</span> {children}
    </Link>
  );
}

/**
 * Read-only view of a notebook rendered by server/notebooks/render.ts (a server component, no
 * client script). `html` MUST come from server/notebooks (renderNotebookPreview, or renderNotebookHtml
 * in tests): it is sanitized there, and inserted here as is. The page also imports
 * "katex/dist/katex.min.css".
 */
import "./notebook.css";

export function NotebookView({ html, className = "" }: { html: string; className?: string }) {
  return (
    <article
      className={`carnet-notebook mx-auto w-full max-w-5xl overflow-x-hidden rounded-lg border border-zinc-200 bg-white px-2 py-4 text-[15px] leading-relaxed text-zinc-900 shadow-sm sm:px-4 ${className}`}
      // Safe: produced by server/notebooks/render.ts (sanitized markdown, escaped code and outputs,
      // HTML outputs only in sandbox="" srcdoc iframes).
      dangerouslySetInnerHTML={{ __html: html }}
    />
  );
}

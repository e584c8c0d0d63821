"use client";
import { useState } from "react";
import { Button, type Variant, type Size } from "./Button";

/** Copies `text` to the clipboard and says so (also to screen readers). Falls back to selecting a hidden field. */
export function CopyButton({ text, label = "Copier", variant = "secondary", size = "md" }: { text: string; label?: string; variant?: Variant; size?: Size }) {
  const [done, setDone] = useState<"" | "ok" | "fail">("");
  async function copy() {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
      } else {
        const ta = document.createElement("textarea");
        ta.value = text;
        ta.setAttribute("readonly", "");
        ta.style.position = "fixed";
        ta.style.opacity = "0";
        document.body.appendChild(ta);
        ta.select();
        const ok = document.execCommand("copy");
        ta.remove();
        if (!ok) throw new Error("copy refused");
      }
      setDone("ok");
    } catch {
      setDone("fail");
    }
    setTimeout(() => setDone(""), 2500);
  }
  return (
    <span className="inline-flex items-center gap-2">
      <Button variant={variant} size={size} onClick={copy}>
        {done === "ok" ? "Copié\u00a0!" : label}
      </Button>
      <span role="status" aria-live="polite" className="sr-only">
        {done === "ok" ? "Copié dans le presse-papiers." : done === "fail" ? "La copie a échoué : sélectionnez le texte et copiez-le à la main." : ""}
      </span>
    </span>
  );
}

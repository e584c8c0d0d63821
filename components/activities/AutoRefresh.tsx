"use client";
/**
 * Keeps a server-rendered page up to date: router.refresh() every `seconds` while the tab is visible (the page's
 * client state, such as a half-typed appréciation, is kept). The teacher can pause it; the last time is shown.
 */
import { useEffect, useState } from "react";
import { useRouter } from "next/navigation";

export function AutoRefresh({ seconds = 10 }: { seconds?: number }) {
  const router = useRouter();
  const [on, setOn] = useState(true);
  const [at, setAt] = useState<string | null>(null);
  useEffect(() => {
    if (!on) return;
    const tick = () => {
      if (document.visibilityState !== "visible") return;
      router.refresh();
      setAt(new Date().toLocaleTimeString("fr-FR", { timeZone: "Europe/Paris" }));
    };
    const id = setInterval(tick, seconds * 1000);
    const onVisible = () => document.visibilityState === "visible" && tick();
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(id);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [on, seconds, router]);
  return (
    <label className="inline-flex items-center gap-2 text-sm text-slate-600">
      <input type="checkbox" className="h-4 w-4 accent-sky-700" checked={on} onChange={(e) => setOn(e.target.checked)} />
      Actualiser toutes les {seconds}&nbsp;s
      <span data-testid="refreshed-at">{on && at ? `(à ${at})` : ""}</span>
    </label>
  );
}

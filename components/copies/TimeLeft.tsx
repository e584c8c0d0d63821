"use client";
/**
 * "Il reste 2 jours 3 h" until a date, refreshed every 20 s (no announcement on each tick: the sentence is read when
 * reached). Rendered on the server first with the same text, so nothing jumps.
 */
import { useEffect, useState } from "react";

export function timeLeftText(until: Date, now: Date): string {
  const ms = until.getTime() - now.getTime();
  if (ms <= 0) return "La date limite est passée.";
  const min = Math.floor(ms / 60_000);
  if (min < 1) return "Il reste moins d'une minute.";
  const d = Math.floor(min / 1440);
  const h = Math.floor((min % 1440) / 60);
  const m = min % 60;
  if (d > 0) return `Il reste ${d}\u00a0jour${d > 1 ? "s" : ""}${h ? ` ${h}\u00a0h` : ""}.`;
  if (h > 0) return `Il reste ${h}\u00a0h${m ? ` ${String(m).padStart(2, "0")}\u00a0min` : ""}.`;
  return `Il reste ${m}\u00a0min.`;
}

export function TimeLeft({ until, now, className }: { until: string; now: string; className?: string }) {
  const [t, setT] = useState(() => new Date(now));
  useEffect(() => {
    setT(new Date());
    const id = setInterval(() => setT(new Date()), 20_000);
    return () => clearInterval(id);
  }, []);
  const d = new Date(until);
  const urgent = d.getTime() - t.getTime() < 3_600_000;
  return (
    <span className={className} data-testid="time-left" data-urgent={urgent ? "true" : undefined}>
      {timeLeftText(d, t)}
    </span>
  );
}

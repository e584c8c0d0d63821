import { Badge } from "@/components/ui/Badge";
import { formatDateTime } from "@/components/ui/format";

const MODE: Record<string, string> = { open: "date indicative", readonly: "rendu automatique, puis lecture seule", locked: "rendu automatique, puis verrouillée" };

/** The activity's window in one line for its teacher: opening, deadline and what happens then. */
export function WindowSummary({ opensAt, closesAt, accessMode }: { opensAt: Date | null; closesAt: Date | null; accessMode: string }) {
  const now = new Date();
  if (!opensAt && !closesAt) return null;
  return (
    <span className="flex flex-wrap items-center gap-2" data-testid="window-summary">
      {opensAt ? <span>{opensAt > now ? "Ouvre" : "Ouverte"} le {formatDateTime(opensAt)}</span> : null}
      {closesAt ? (
        <span>
          À rendre avant le {formatDateTime(closesAt)} ({MODE[accessMode] ?? accessMode})
        </span>
      ) : null}
      {closesAt && closesAt <= now && accessMode !== "open" ? <Badge tone="warning">Date limite passée</Badge> : null}
    </span>
  );
}

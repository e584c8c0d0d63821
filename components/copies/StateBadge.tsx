import { Badge, type Tone } from "@/components/ui/Badge";
import { STATE_LABELS } from "@/server/copies/list-copies";

const TONES: Record<string, Tone> = { NEW: "neutral", IN_PROGRESS: "info", SUBMITTED: "warning", GRADED: "success" };

/** The copy's state: Non modifiée, En cours, Rendue (to grade: amber), Corrigée (green). */
export function StateBadge({ state }: { state: string }) {
  return <Badge tone={TONES[state] ?? "neutral"}>{STATE_LABELS[state] ?? state}</Badge>;
}

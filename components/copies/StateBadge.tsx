import { Badge, type Tone } from "@/components/ui/Badge";
import { STATE_LABELS } from "@/server/copies/list-copies";

const TONES: Record<string, Tone> = { NEW: "neutral", IN_PROGRESS: "info", SUBMITTED: "success" };

export function StateBadge({ state }: { state: string }) {
  return <Badge tone={TONES[state] ?? "neutral"}>{STATE_LABELS[state] ?? state}</Badge>;
}

/** What the dashboard, the copies API and the CSV show of a copy's hand-in, feedback and live server. */
import "server-only";

export interface GradingRowSource {
  submittedAt: Date | null;
  submittedBy: string | null;
  gradedAt: Date | null;
  appreciation: string;
  grade: string;
  feedbackReleasedAt: Date | null;
  server?: { status: string; lastActivity: Date } | null;
}

/** A copy counts as "connected" when its server saw traffic this recently. */
export const ONLINE_MS = 5 * 60_000;

export type Presence = "online" | "idle" | "starting" | "offline";

export interface GradingRow {
  submittedAt: Date | null;
  submittedBy: string | null;
  gradedAt: Date | null;
  appreciation: string;
  evaluation: string;
  released: boolean;
  /** The student's live server: running with recent traffic, running idle, starting, or none. */
  presence: Presence;
  lastActivity: Date | null;
}

export function gradingRow(c: GradingRowSource, now = Date.now()): GradingRow {
  const s = c.server ?? null;
  const presence: Presence = !s ? "offline" : s.status === "starting" ? "starting" : now - s.lastActivity.getTime() < ONLINE_MS ? "online" : "idle";
  return {
    submittedAt: c.submittedAt,
    submittedBy: c.submittedBy,
    gradedAt: c.gradedAt,
    appreciation: c.appreciation,
    evaluation: c.grade,
    released: c.feedbackReleasedAt !== null,
    presence,
    lastActivity: s?.lastActivity ?? null,
  };
}

/**
 * How long the copy page waits before it asks again about a server start (GET /api/v1/copies/{id}/server), shared
 * with bench/class-burst.ts so that the bench's API students poll as the page does. Each look costs the portal about
 * 8 ms of CPU: a class of 35 looking 5 times a second would take the CPU its starts need. So: brisk (0.2 s) once the
 * student's turn has come (a start takes about a second), and while waiting in the queue about a quarter of the
 * announced wait, between 0.3 and 3 s (the place shown moves at least that often).
 */
export function nextPollDelay(queue: { position: number; etaS?: number | null } | null | undefined, pollsSinceTurn: number): number {
  if (queue) {
    if (queue.etaS === null || queue.etaS === undefined) return queue.position <= 2 ? 300 : 1000;
    return Math.round(Math.min(3000, Math.max(300, queue.etaS * 250)));
  }
  return pollsSinceTurn < 20 ? 200 : 1000;
}

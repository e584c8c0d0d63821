/**
 * How long the copy page waits before it asks again about a server start (GET /api/v1/copies/{id}/server), shared
 * with bench/class-burst.ts so that the bench's API students poll as the page does. A start takes about a second:
 * brisk polling (0.2 s) right after the student's turn comes, gentle (1 s) while many are ahead in the queue or
 * when the start drags on: a class of 35 polling 5 times a second would cost the starts their CPU.
 */
export function nextPollDelay(queue: { position: number } | null | undefined, pollsSinceTurn: number): number {
  if (queue) return queue.position <= 2 ? 300 : 1000;
  return pollsSinceTurn < 20 ? 200 : 1000;
}

import type { ProgressEvent } from "./types";

/**
 * Progress events of one start: every iterator replays what was already emitted, then follows
 * new events until `end()`. A new `reset()` starts a new list (a new start()).
 */
export class ProgressLog {
  private events: ProgressEvent[] = [];
  private ended = false;
  private waiters: (() => void)[] = [];

  /** Forgets the events of the previous start. */
  reset(): void {
    this.events = [];
    this.ended = false;
    this.wake();
  }

  /** Adds an event; ignored after end(). */
  emit(progress: number, message: string): void {
    if (this.ended) return;
    this.events.push({ progress, message });
    this.wake();
  }

  /** Ends every iterator (start() resolved or threw). Idempotent. */
  end(): void {
    this.ended = true;
    this.wake();
  }

  /** An independent iterator over the events (see class comment). */
  async *iterate(): AsyncGenerator<ProgressEvent> {
    let i = 0;
    let list = this.events;
    for (;;) {
      if (list !== this.events) {
        // reset() happened: follow the new start from its beginning.
        list = this.events;
        i = 0;
      }
      while (i < list.length) yield list[i++]!;
      if (this.ended) return;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/**
 * Starts of students' servers, first come first served, a few at a time. A start is mostly CPU (Python importing
 * Jupyter and its extensions): twenty started together on two cores all finish late together, while started two at a
 * time the first students have their notebook at once and the others one after the other. Students waiting are told
 * their place (and, once a few starts have been timed, about how long) through GET /api/v1/copies/{id}/server.
 *
 * In-process: one queue per portal process, which is one per site (the orchestrator's starts are in process too).
 * Not `import "server-only"`: the unit tests import it.
 */
import os from "node:os";

/** Where a copy's start stands: running now (place 0), or waiting (place 1 = next), with a rough wait in seconds. */
export interface QueuePlace {
  place: number;
  /** Seconds until its turn, from the recent starts' durations; null until one start has been timed. */
  etaS: number | null;
}

interface Waiting {
  key: string;
  run: () => void;
  cancel: (err: Error) => void;
}

/** The start was taken out of the queue before its turn (its server was stopped meanwhile). */
export class StartCancelled extends Error {
  constructor(readonly key: string) {
    super(`start of ${key} cancelled while waiting`);
  }
}

/**
 * At most `concurrency` tasks at once, the others in arrival order. One task per key at a time: `run` with a key
 * already waiting or running returns that task's promise (twenty tabs, one start, one place).
 */
export class StartQueue {
  private readonly waiting: Waiting[] = [];
  private readonly tasks = new Map<string, Promise<unknown>>();
  private readonly active = new Set<string>();
  /** Smoothed duration of a start, in ms (null until one finished). */
  private meanMs: number | null = null;

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, not ${concurrency}`);
  }

  /**
   * Runs `fn` when a slot is free and its turn has come; resolves or rejects with it. The slot is freed whatever `fn`
   * does (a start that fails lets the next one in). Idempotent per key while the task is waiting or running.
   */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.tasks.get(key);
    if (existing) return existing as Promise<T>;
    const task = new Promise<T>((resolve, reject) => {
      const go = () => {
        this.active.add(key);
        const t0 = Date.now();
        let p: Promise<T>;
        try {
          p = fn();
        } catch (err) {
          p = Promise.reject(err as Error);
        }
        // The slot is freed (and the next task started) before the caller hears the outcome.
        const done = () => {
          const ms = Date.now() - t0;
          this.meanMs = this.meanMs === null ? ms : 0.7 * this.meanMs + 0.3 * ms;
          this.active.delete(key);
          this.tasks.delete(key);
          this.next();
        };
        p.then(
          (v) => (done(), resolve(v)),
          (e: unknown) => (done(), reject(e as Error)),
        );
      };
      if (this.active.size < this.concurrency && this.waiting.length === 0) go();
      else this.waiting.push({ key, run: go, cancel: reject });
    });
    this.tasks.set(key, task);
    return task;
  }

  /**
   * Takes a waiting task out of the queue: its promise rejects with StartCancelled and `fn` never runs. Returns false
   * (and does nothing) when the key is running or unknown.
   */
  cancel(key: string): boolean {
    const i = this.waiting.findIndex((w) => w.key === key);
    if (i < 0) return false;
    const [w] = this.waiting.splice(i, 1);
    this.tasks.delete(key);
    w!.cancel(new StartCancelled(key));
    return true;
  }

  /** The key's place: 0 while it runs, 1… while it waits (1 = next), null when it is neither. */
  place(key: string): QueuePlace | null {
    if (this.active.has(key)) return { place: 0, etaS: 0 };
    const i = this.waiting.findIndex((w) => w.key === key);
    if (i < 0) return null;
    // Those ahead go `concurrency` at a time; the running ones are half done on average.
    const eta = this.meanMs === null ? null : Math.ceil(((Math.floor(i / this.concurrency) + 0.5) * this.meanMs) / 1000);
    return { place: i + 1, etaS: eta };
  }

  /** How many run and how many wait. */
  get size(): { running: number; waiting: number } {
    return { running: this.active.size, waiting: this.waiting.length };
  }

  private next() {
    while (this.active.size < this.concurrency && this.waiting.length) this.waiting.shift()!.run();
  }
}

const KEY = Symbol.for("carnet.servers.startQueue");
type G = typeof globalThis & { [KEY]?: StartQueue };

/**
 * The portal's queue of server starts. `concurrency` (CARNET_START_CONCURRENCY) defaults to the machine's cores;
 * the first call fixes it for the life of the process.
 */
export function startQueue(concurrency?: number): StartQueue {
  const g = globalThis as G;
  return (g[KEY] ??= new StartQueue(concurrency ?? Math.max(1, os.availableParallelism())));
}

/** "1er", "2e", "3e"… */
function ordinal(n: number): string {
  return n === 1 ? "1er" : `${n}e`;
}

/** What a student waiting in the queue reads on the copy page. */
export function queueMessage(p: QueuePlace): string {
  const wait = p.etaS === null || p.etaS <= 2 ? "" : ` (environ ${p.etaS} s d'attente)`;
  return p.place === 1
    ? `Votre carnet est le prochain à démarrer${wait}…`
    : `Vous êtes ${ordinal(p.place)} dans la file : toute la classe arrive en même temps, les carnets démarrent les uns après les autres${wait}…`;
}

/**
 * The start queue's behaviour (never its timing): first come first served, never more than `concurrency` at once,
 * a failing start frees its slot, one task per copy however many times it is asked, cancelling a waiting start.
 */
import { describe, expect, it } from "vitest";
import { queueMessage, StartCancelled, StartQueue } from "./start-queue";

/** A task that runs until released from outside, recording when it starts. */
function gate() {
  let release!: (v?: unknown) => void;
  let fail!: (e: Error) => void;
  const done = new Promise((res, rej) => ((release = res), (fail = rej)));
  return { done, release: () => release(), fail: (e: Error) => fail(e) };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("start queue", () => {
  it("runs at most `concurrency` at once, the others in arrival order, each told its place", async () => {
    const q = new StartQueue(2);
    const started: string[] = [];
    const gates = new Map<string, ReturnType<typeof gate>>();
    const keys = ["a", "b", "c", "d", "e"];
    const results = keys.map((k) => {
      const g = gate();
      gates.set(k, g);
      return q.run(k, async () => {
        started.push(k);
        await g.done;
        return k.toUpperCase();
      });
    });
    await tick();
    expect(started).toEqual(["a", "b"]);
    expect(q.size).toEqual({ running: 2, waiting: 3 });
    expect(q.place("a")?.place).toBe(0);
    expect(q.place("c")?.place).toBe(1);
    expect(q.place("e")?.place).toBe(3);
    expect(q.place("zz")).toBeNull();
    // The second one finishes first: the next in line (c) takes its slot, not a later one.
    gates.get("b")!.release();
    await tick();
    expect(started).toEqual(["a", "b", "c"]);
    expect(q.place("d")?.place).toBe(1);
    gates.get("a")!.release();
    await tick();
    expect(started).toEqual(["a", "b", "c", "d"]);
    for (const k of keys) gates.get(k)!.release();
    expect(await Promise.all(results)).toEqual(["A", "B", "C", "D", "E"]);
    expect(q.size).toEqual({ running: 0, waiting: 0 });
  });

  it("a start that fails (rejects or throws at once) frees its slot for the next one", async () => {
    const q = new StartQueue(1);
    const started: string[] = [];
    const failing = q.run("a", async () => {
      started.push("a");
      throw new Error("Jupyter est mort");
    });
    const throwing = q.run("b", () => {
      started.push("b");
      throw new Error("spec refusée");
    });
    const ok = q.run("c", async () => {
      started.push("c");
      return 3;
    });
    await expect(failing).rejects.toThrow("Jupyter est mort");
    await expect(throwing).rejects.toThrow("spec refusée");
    expect(await ok).toBe(3);
    expect(started).toEqual(["a", "b", "c"]);
    expect(q.size).toEqual({ running: 0, waiting: 0 });
  });

  it("is idempotent per copy: twenty tabs, one start, one place; a finished copy can start again", async () => {
    const q = new StartQueue(1);
    const blocker = gate();
    void q.run("other", () => blocker.done);
    let runs = 0;
    const g = gate();
    const tabs = Array.from({ length: 20 }, () =>
      q.run("copy", async () => {
        runs++;
        await g.done;
        return "prêt";
      }),
    );
    expect(new Set(tabs).size).toBe(1);
    expect(q.size.waiting).toBe(1);
    expect(q.place("copy")?.place).toBe(1);
    blocker.release();
    await tick();
    g.release();
    expect(await Promise.all(tabs)).toEqual(Array(20).fill("prêt"));
    expect(runs).toBe(1);
    expect(await q.run("copy", async () => "encore")).toBe("encore");
  });

  it("a waiting start can be cancelled (its server stopped meanwhile): it never runs and its place goes to the next", async () => {
    const q = new StartQueue(1);
    const blocker = gate();
    void q.run("a", () => blocker.done);
    let ran = false;
    const b = q.run("b", async () => {
      ran = true;
    });
    const c = q.run("c", async () => "c");
    expect(q.place("c")?.place).toBe(2);
    expect(q.cancel("b")).toBe(true);
    await expect(b).rejects.toBeInstanceOf(StartCancelled);
    expect(q.place("c")?.place).toBe(1);
    expect(q.cancel("a")).toBe(false); // running: not cancellable
    blocker.release();
    expect(await c).toBe("c");
    expect(ran).toBe(false);
  });

  it("estimates the wait from the starts it timed, and says so in French", async () => {
    const q = new StartQueue(2);
    expect(queueMessage({ place: 4, etaS: null })).toBe(
      "Vous êtes 4e dans la file : toute la classe arrive en même temps, les carnets démarrent les uns après les autres…",
    );
    expect(queueMessage({ place: 1, etaS: 1 })).toBe("Votre carnet est le prochain à démarrer…");
    expect(queueMessage({ place: 4, etaS: 9 })).toBe(
      "Vous êtes 4e dans la file : toute la classe arrive en même temps, les carnets démarrent les uns après les autres (environ 9 s d'attente)…",
    );
    await q.run("timed", async () => undefined);
    const blockers = [gate(), gate()];
    void q.run("x", () => blockers[0]!.done);
    void q.run("y", () => blockers[1]!.done);
    void q.run("w1", async () => undefined);
    void q.run("w2", async () => undefined);
    void q.run("w3", async () => undefined);
    expect(q.place("w3")?.etaS).not.toBeNull();
    expect(q.place("w3")!.etaS!).toBeGreaterThanOrEqual(q.place("w1")!.etaS!);
    for (const b of blockers) b.release();
  });

  it("refuses a concurrency that is not a positive integer", () => {
    expect(() => new StartQueue(0)).toThrow();
    expect(() => new StartQueue(1.5)).toThrow();
  });
});

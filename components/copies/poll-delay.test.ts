/** The copy page's polling pace: gentle far back in the queue, brisk near and after the student's turn. */
import { describe, expect, it } from "vitest";
import { nextPollDelay } from "./poll-delay";

describe("copy page polling", () => {
  it("polls less often the longer the announced wait, within 0.3 and 3 s, and briskly once the turn has come", () => {
    const far = nextPollDelay({ position: 30, etaS: 24 }, 0);
    const near = nextPollDelay({ position: 2, etaS: 2 }, 0);
    expect(far).toBe(3000);
    expect(near).toBeLessThan(far);
    expect(nextPollDelay({ position: 1, etaS: 0 }, 0)).toBe(300);
    // No estimate yet (no start timed): by place.
    expect(nextPollDelay({ position: 1, etaS: null }, 0)).toBe(300);
    expect(nextPollDelay({ position: 9, etaS: null }, 0)).toBe(1000);
    expect(nextPollDelay(null, 0)).toBe(200);
    expect(nextPollDelay(null, 19)).toBe(200);
    expect(nextPollDelay(null, 20)).toBe(1000);
  });
});

/**
 * Regression: copy ids are base64url and about 1 in 32 starts with "-" or "_", which the spawner refuses in names.
 * Such copies could never get a live server, and their start stayed "starting" forever (the spawner was created
 * outside the start's try block). Every possible copy id must map to a spawner id the backends accept.
 */
import crypto from "node:crypto";
import { describe, expect, it } from "vitest";
import { createSpawner } from "@/spawner";
import { serverIdOf } from "./server-id";

const spec = (id: string) => ({ id, baseUrl: "/nb/x/", workDir: "/tmp", token: "t".repeat(32), memoryMb: 256, cpus: 1 });
const opts = { instanceId: "ctest", stateDir: "/tmp/carnet-server-id-test" };

describe("serverIdOf", () => {
  it("keeps ordinary ids, and gives ids starting with - or _ a letter in front", () => {
    expect(serverIdOf("abcDEF0123456789_-xyzQ")).toBe("abcDEF0123456789_-xyzQ");
    expect(serverIdOf("-Hr8qAD0WpTMWI1n9XC9DQ")).toBe("x-Hr8qAD0WpTMWI1n9XC9DQ");
    expect(serverIdOf("_Hr8qAD0WpTMWI1n9XC9DQ")).toBe("x_Hr8qAD0WpTMWI1n9XC9DQ");
  });

  it("every copy id gives a spawner id both backends accept", () => {
    for (const id of ["-Hr8qAD0WpTMWI1n9XC9DQ", "_Hr8qAD0WpTMWI1n9XC9DQ", ...Array.from({ length: 500 }, () => crypto.randomBytes(16).toString("base64url"))]) {
      expect(() => createSpawner("local", spec(serverIdOf(id)), opts)).not.toThrow();
      expect(() => createSpawner("docker", spec(serverIdOf(id)), opts)).not.toThrow();
    }
    // What happened before: the raw id is refused.
    expect(() => createSpawner("local", spec("-Hr8qAD0WpTMWI1n9XC9DQ"), opts)).toThrow(/invalid SpawnSpec/);
  });

  it("never maps two copy ids (22 base64url characters) to one server id", () => {
    const ids = new Set(["-Hr8qAD0WpTMWI1n9XC9DQ", "x-Hr8qAD0WpTMWI1n9XC9D", ...Array.from({ length: 2000 }, () => crypto.randomBytes(16).toString("base64url"))]);
    expect(new Set([...ids].map(serverIdOf)).size).toBe(ids.size);
  });
});

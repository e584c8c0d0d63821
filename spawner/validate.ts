import path from "node:path";
import { z } from "zod";
import type { SpawnSpec } from "./types";

/** Names end up in container names, cgroup paths and labels: keep them boring. */
const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, "letters, digits, _ and - only (max 63)");

const spec = z.object({
  id: name,
  baseUrl: z.string().regex(/^\/(?:[^\s?#]*\/)?$/, 'must start and end with "/"'),
  workDir: z.string().refine((p) => path.isAbsolute(p), "must be absolute"),
  token: z.string().min(16, "at least 16 characters"),
  memoryMb: z.number().int().min(64),
  cpus: z.number().positive().max(64),
  readOnlyMounts: z
    .array(z.object({ hostPath: z.string().refine((p) => path.isAbsolute(p)), containerPath: z.string().refine((p) => path.posix.isAbsolute(p)) }))
    .optional(),
  allowNetwork: z.boolean().optional(),
  pidsLimit: z.number().int().min(16).max(100_000).optional(),
  tmpMb: z.number().int().min(1).optional(),
  shmMb: z.number().int().min(1).optional(),
  maxFileMb: z.number().int().min(1).optional(),
  uid: z.number().int().positive().optional(),
  gid: z.number().int().positive().optional(),
});

/** Defaults of the optional limits of a SpawnSpec (both backends). */
export const LIMIT_DEFAULTS = { pidsLimit: 256, tmpMb: 128, shmMb: 64, maxFileMb: 2048 } as const;

/** The spec's limits with their defaults filled in. */
export function limitsOf(s: SpawnSpec): { pidsLimit: number; tmpMb: number; shmMb: number; maxFileMb: number } {
  return {
    pidsLimit: s.pidsLimit ?? LIMIT_DEFAULTS.pidsLimit,
    tmpMb: s.tmpMb ?? LIMIT_DEFAULTS.tmpMb,
    shmMb: s.shmMb ?? LIMIT_DEFAULTS.shmMb,
    maxFileMb: s.maxFileMb ?? LIMIT_DEFAULTS.maxFileMb,
  };
}

/** Throws a readable error if the spec is malformed (checked once, in the Spawner's constructor). */
export function validateSpec(s: SpawnSpec): void {
  const r = spec.safeParse(s);
  if (!r.success) throw new Error(`invalid SpawnSpec: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
}

/** Throws if an instance id cannot be used in names and labels. */
export function validateInstanceId(id: string): void {
  const r = name.safeParse(id);
  if (!r.success) throw new Error(`invalid instanceId: ${r.error.issues[0]?.message}`);
}

/**
 * Notebook sessions: what a notebook host's cookie stands for. The cookie is a random id (never a JWT); the record
 * behind it says who (userId), for which copy (copyId) and from which session version of that user (sv), so the
 * portal can end it. Sessions expire after IDLE_MS without a request and MAX_AGE_MS in any case.
 * Kept in <data>/proxy/sessions.json (mode 0600, keyed by the SHA-256 of the id, never the id itself), so a restart of
 * the proxy does not sign everybody out of their open notebooks.
 */
import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { z } from "zod";
import type { Logger } from "./logger";

export interface NbSession {
  /** SHA-256 (base64url) of the cookie value. */
  key: string;
  userId: string;
  copyId: string;
  sv: number;
  created: number;
  lastSeen: number;
  /** « Modifier quand même »: the portal let this (teacher's) session write to the student's copy (carnet-events.ts). */
  edit?: boolean;
  /** The copy's student, for a teacher's read-only bar (given by the portal at the hand-over). */
  studentName?: string;
}

/** A session dies after this long without a request (the open notebook's kernel messages count). */
export const IDLE_MS = 2 * 3_600_000;
/** And after this long whatever happens (servers are stopped after 12 h too). */
export const MAX_AGE_MS = 12 * 3_600_000;
const FLUSH_MS = 60_000;
const MAX_SESSIONS = 100_000;

const fileSchema = z.object({
  version: z.literal(1),
  sessions: z.record(
    z.string(),
    z.object({
      userId: z.string(),
      copyId: z.string(),
      sv: z.number().int(),
      created: z.number(),
      lastSeen: z.number(),
      edit: z.boolean().optional(),
      studentName: z.string().max(200).optional(),
    }),
  ),
});

export function sessionKey(value: string): string {
  return crypto.createHash("sha256").update(value).digest("base64url");
}

export class SessionStore {
  private readonly sessions = new Map<string, NbSession>();
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {
    this.timer = setInterval(() => {
      this.sweep();
      if (this.dirty) void this.persist().catch(() => undefined);
    }, FLUSH_MS);
    this.timer.unref();
  }

  /** Opens <dataDir>/proxy/sessions.json (empty if missing; a corrupt file is dropped: people sign in again). */
  static async open(dataDir: string, log: Logger): Promise<SessionStore> {
    const dir = path.join(dataDir, "proxy");
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const store = new SessionStore(path.join(dir, "sessions.json"), log);
    try {
      const parsed = fileSchema.parse(JSON.parse(await fs.readFile(store.file, "utf8")));
      for (const [key, s] of Object.entries(parsed.sessions)) store.sessions.set(key, { key, ...s });
      store.sweep();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") log.warn("sessions.json unreadable: notebook sessions start empty");
    }
    return store;
  }

  /** A new session; returns the cookie value (43 random base64url characters). Written to disk before it resolves. */
  async create(s: { userId: string; copyId: string; sv: number; edit?: boolean; studentName?: string }): Promise<string> {
    const value = crypto.randomBytes(32).toString("base64url");
    const now = Date.now();
    if (this.sessions.size >= MAX_SESSIONS) this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) {
      const oldest = this.sessions.keys().next();
      if (oldest.done) break;
      this.sessions.delete(oldest.value);
    }
    const key = sessionKey(value);
    this.sessions.set(key, { key, ...s, created: now, lastSeen: now });
    await this.persist();
    return value;
  }

  /** The live session of a cookie value, if any (expired ones are forgotten). */
  find(value: string): NbSession | undefined {
    const s = this.sessions.get(sessionKey(value));
    if (!s) return undefined;
    if (expired(s, Date.now())) {
      this.sessions.delete(s.key);
      this.dirty = true;
      return undefined;
    }
    return s;
  }

  /** A request or WebSocket frame on this session: it stays alive (flushed to disk every minute). */
  touch(s: NbSession): void {
    s.lastSeen = Date.now();
    this.dirty = true;
  }

  /** Ends one session (sign-out from Jupyter's page, a version the portal no longer accepts). */
  revoke(s: NbSession): void {
    if (this.sessions.delete(s.key)) this.dirty = true;
  }

  /** Whether this session is still in the store (not revoked, not expired). */
  has(s: NbSession): boolean {
    return this.sessions.get(s.key) === s && !expired(s, Date.now());
  }

  get size(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    if (this.dirty) await this.persist().catch(() => undefined);
    await this.writing;
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (expired(s, now)) {
        this.sessions.delete(s.key);
        this.dirty = true;
      }
    }
  }

  private persist(): Promise<void> {
    const run = this.writing.then(() => this.writeNow());
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async writeNow(): Promise<void> {
    this.dirty = false;
    const sessions: z.infer<typeof fileSchema>["sessions"] = {};
    for (const s of this.sessions.values()) {
      sessions[s.key] = {
        userId: s.userId,
        copyId: s.copyId,
        sv: s.sv,
        created: s.created,
        lastSeen: s.lastSeen,
        ...(s.edit ? { edit: true } : {}),
        ...(s.studentName ? { studentName: s.studentName } : {}),
      };
    }
    const tmp = `${this.file}.${process.pid}.${crypto.randomBytes(6).toString("hex")}.tmp`;
    try {
      const handle = await fs.open(tmp, "wx", 0o600);
      try {
        await handle.writeFile(JSON.stringify({ version: 1, sessions }), "utf8");
      } finally {
        await handle.close();
      }
      await fs.rename(tmp, this.file);
    } catch (err) {
      await fs.rm(tmp, { force: true }).catch(() => undefined);
      this.log.error({ err: { message: (err as Error).message } }, "could not write sessions.json");
      throw err;
    }
  }
}

function expired(s: NbSession, now: number): boolean {
  return now - s.lastSeen > IDLE_MS || now - s.created > MAX_AGE_MS;
}

/** The activity's dashboard: every student's copy, sortable, filterable by class, searchable, paginated. */
import "server-only";
import { z } from "zod";
import { db } from "../db";
import type { CopyUpdateStatus, Prisma, User } from "../generated/prisma/client";
import { activityForManager } from "../activities/access";
import { refreshSaveTimes } from "./save-times";
import { gradingRow, type GradingRow, type GradingRowSource } from "../grading/rows";
import { studentCopiesOf } from "./test-copy";

export const listCopiesQuery = z.object({
  sort: z.enum(["name", "class", "createdAt", "lastSavedAt", "state"]).default("name"),
  dir: z.enum(["asc", "desc"]).default("asc"),
  class: z.string().max(100).optional(),
  q: z.string().max(100).optional(),
  page: z.coerce.number().int().min(1).default(1),
  pageSize: z.coerce.number().int().min(1).max(1000).default(50),
  ids: z.string().max(100_000).optional(), // comma-separated copy ids (selection)
});
export type ListCopiesQuery = z.infer<typeof listCopiesQuery>;

export const STATE_LABELS: Record<string, string> = { NEW: "Non modifiée", IN_PROGRESS: "En cours", SUBMITTED: "Rendue", GRADED: "Corrigée" };

/** The activity's students' copies matching the query; the teacher's test copy (« Aperçu élève ») never counts. */
function where(activity: { id: string; ownerId: string }, q: Partial<ListCopiesQuery>): Prisma.CopyWhereInput {
  const student: Prisma.UserWhereInput = {};
  if (q.class) student.classes = { has: q.class };
  if (q.q?.trim()) {
    const term = q.q.trim();
    student.OR = [{ name: { contains: term, mode: "insensitive" } }, { username: { contains: term, mode: "insensitive" } }];
  }
  return {
    ...studentCopiesOf(activity),
    ...(Object.keys(student).length ? { student } : {}),
    ...(q.ids ? { id: { in: q.ids.split(",").filter(Boolean) } } : {}),
  };
}

function orderBy(q: Partial<ListCopiesQuery>): Prisma.CopyOrderByWithRelationInput[] {
  const dir = q.dir ?? "asc";
  switch (q.sort) {
    case "createdAt":
      return [{ createdAt: dir }, { id: "asc" }];
    case "lastSavedAt":
      return [{ lastSavedAt: { sort: dir, nulls: "last" } }, { id: "asc" }];
    case "state":
      return [{ state: dir }, { student: { sortName: "asc" } }, { id: "asc" }];
    // Classes are an array: order by the student's name within the filtered class (Postgres orders arrays lexically).
    case "class":
      return [{ student: { classes: dir } } as unknown as Prisma.CopyOrderByWithRelationInput, { student: { sortName: "asc" } }, { id: "asc" }];
    default:
      return [{ student: { sortName: dir } }, { student: { name: dir } }, { id: "asc" }];
  }
}

export type CopyRow = {
  id: string;
  /** Hand-in, appréciation, évaluation, live server (server/grading/rows.ts). */
  grading: GradingRow;
  student: { id: string; username: string; name: string; class: string | null; classes: string[] };
  createdAt: Date;
  updatedAt: Date | null;
  lastSavedAt: Date | null;
  state: string;
  versionNumber: number;
  /** The teacher's last update of this copy (docs/history.md): still offered, or applied (by whom, when). */
  update: { status: "offered" } | { status: "applied"; at: Date; byStudent: boolean } | null;
  /** Disk used by the copy folder (MiB, last measure) and whether it is over CARNET_COPY_QUOTA_MB (server stopped). */
  diskMb: number | null;
  overQuota: boolean;
};

/**
 * One page of the dashboard plus totals and the list of classes for the filter.
 * Save times of the activity's copies are refreshed from the files first (one stat per copy).
 */
export async function listCopies(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity: a, classes } = await refreshedActivity(user, activityId);
  const w = where(a, q);
  const page = q.page ?? 1;
  const pageSize = q.pageSize ?? 50;
  const [total, rows] = await Promise.all([
    db().copy.count({ where: w }),
    db().copy.findMany({
      where: w,
      orderBy: orderBy(q),
      skip: (page - 1) * pageSize,
      take: pageSize,
      include: rowInclude,
    }),
  ]);
  const items: CopyRow[] = rows.map((c) => toRow(c, q.class));
  return { activity: a, total, page, pageSize, pages: Math.max(1, Math.ceil(total / pageSize)), items, classes };
}

/** Updates that say something about a copy now (an undone one is offered again). */
const LIVE_UPDATES: CopyUpdateStatus[] = ["OFFERED", "APPLIED"];

const rowInclude = {
  student: { select: { id: true, username: true, name: true, classes: true } },
  version: { select: { number: true } },
  server: { select: { status: true, lastActivity: true } },
  updates: { where: { status: { in: LIVE_UPDATES } }, orderBy: { offeredAt: "desc" }, take: 1, select: { status: true, appliedAt: true, appliedById: true } },
} as const;

function toRow(
  c: { id: string; notebookPath: string; createdAt: Date; lastSavedAt: Date | null; state: string; diskMb: number | null; overQuotaAt: Date | null; student: Omit<CopyRow["student"], "class">; version: { number: number }; updates: { status: string; appliedAt: Date | null; appliedById: string | null }[] } & GradingRowSource,
  wantedClass?: string,
): CopyRow & { notebookPath: string } {
  return {
    id: c.id,
    grading: gradingRow(c),
    notebookPath: c.notebookPath,
    student: { ...c.student, class: pickClass(c.student.classes, wantedClass) },
    createdAt: c.createdAt,
    updatedAt: c.lastSavedAt,
    lastSavedAt: c.lastSavedAt,
    state: c.state,
    versionNumber: c.version.number,
    update: updateOf(c.updates[0], c.student.id),
    diskMb: c.diskMb,
    overQuota: c.overQuotaAt !== null,
  };
}

function updateOf(u: { status: string; appliedAt: Date | null; appliedById: string | null } | undefined, studentId: string): CopyRow["update"] {
  if (!u) return null;
  if (u.status === "OFFERED") return { status: "offered" };
  return { status: "applied", at: u.appliedAt ?? new Date(0), byStudent: u.appliedById === studentId };
}

function pickClass(classes: string[], wanted?: string): string | null {
  if (wanted && classes.includes(wanted)) return wanted;
  return classes.length ? classes.join(", ") : null;
}

/** Every copy matching the query (no pagination), for CSV and zip exports. */
export async function allCopies(user: User, activityId: string, q: Partial<ListCopiesQuery> = {}) {
  const { activity } = await refreshedActivity(user, activityId);
  const rows = await db().copy.findMany({ where: where(activity, q), orderBy: orderBy(q), include: rowInclude });
  return { activity, items: rows.map((c) => toRow(c, q.class)) };
}

/**
 * The activity if `user` manages it, after bringing its copies' save times up to date from disk (one stat each),
 * with the classes present among its students (for the filter).
 */
async function refreshedActivity(user: User, activityId: string) {
  const activity = await activityForManager(user, activityId);
  const all = await db().copy.findMany({
    where: studentCopiesOf(activity),
    select: { id: true, notebookPath: true, createdAt: true, lastSavedAt: true, state: true, student: { select: { classes: true } } },
  });
  await refreshSaveTimes(all);
  const classes = [...new Set(all.flatMap((c) => c.student.classes))].sort((x, y) => x.localeCompare(y, "fr"));
  return { activity, classes };
}

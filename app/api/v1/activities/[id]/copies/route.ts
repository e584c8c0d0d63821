import { api, param } from "@/server/http";
import { listCopies, listCopiesQuery } from "@/server/copies/list-copies";

export const dynamic = "force-dynamic";

/** The copies of an activity. Without `page`, every copy (a plain array); with `page`, one page and totals. */
export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ req, params, actor }) => {
  const sp = Object.fromEntries(new URL(req.url).searchParams);
  const q = listCopiesQuery.parse(sp);
  const paged = "page" in sp || "pageSize" in sp;
  const r = await listCopies(actor.user, param(params, "id"), paged ? q : { ...q, pageSize: 100_000 });
  const items = r.items.map((c) => ({
    id: c.id,
    student: { username: c.student.username, name: c.student.name, class: c.student.class },
    createdAt: c.createdAt,
    updatedAt: c.updatedAt ?? c.createdAt,
    lastSavedAt: c.lastSavedAt,
    state: c.state,
    submittedAt: c.grading.submittedAt,
    submittedBy: c.grading.submittedBy,
    gradedAt: c.grading.gradedAt,
    appreciation: c.grading.appreciation,
    evaluation: c.grading.evaluation,
    released: c.grading.released,
    server: { presence: c.grading.presence, lastActivity: c.grading.lastActivity },
    version: c.versionNumber,
    diskMb: c.diskMb,
    overQuota: c.overQuota,
  }));
  return paged ? { total: r.total, page: r.page, pages: r.pages, pageSize: r.pageSize, classes: r.classes, items } : items;
});

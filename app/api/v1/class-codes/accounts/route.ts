/** GET: the student accounts created with the teacher's class codes. */
import { api } from "@/server/http";
import { listClassCodeAccounts } from "@/server/class-codes";

export const GET = api({ roles: ["TEACHER", "ADMIN"] }, async ({ actor }) => ({ accounts: await listClassCodeAccounts(actor.user.id) }));

import { api } from "@/server/http";
import { myCopies } from "@/server/copies/open-copy";

export const dynamic = "force-dynamic";

export const GET = api({}, async ({ actor }) => myCopies(actor.user));

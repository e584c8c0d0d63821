import { redirect } from "next/navigation";
import { homeOf, requireUser } from "@/components/auth/session";

/** After signing in with no target: teachers go to their activities, students to their copies. */
export default async function AfterSignIn() {
  const user = await requireUser("/connexion/suite");
  redirect(homeOf(user));
}

"use server";
import { signOut } from "@/server/auth/nextauth";

/** Ends the session and goes back to the home page. */
export async function signOutAction(): Promise<void> {
  await signOut({ redirectTo: "/" });
}

import Link from "next/link";
import type { User } from "@/server/generated/prisma/client";
import { signOutAction } from "@/components/auth/sign-out-action";

const link =
  "rounded-md px-3 py-2 font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-3 focus-visible:outline-sky-600";

/** The bar at the top of every page: the name, where to go for this role, who is signed in. */
export function SiteHeader({ user }: { user: Pick<User, "name" | "role"> | null }) {
  const teacher = user && user.role !== "STUDENT";
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-4 gap-y-2 px-4 py-3 sm:px-6">
        <Link href="/" className="mr-2 flex items-center gap-2 rounded-md text-xl font-bold tracking-tight text-slate-900 focus-visible:outline-3 focus-visible:outline-sky-600">
          <span aria-hidden="true" className="grid h-8 w-8 place-items-center rounded-lg bg-sky-700 text-base text-white">
            C
          </span>
          Carnet
        </Link>
        {user ? (
          <nav aria-label="Navigation principale" className="flex flex-wrap items-center gap-1">
            {teacher ? (
              <Link href="/activites" className={link}>
                Mes activités
              </Link>
            ) : null}
            <Link href="/copies" className={link}>
              Mes copies
            </Link>
            <Link href="/parametres" className={link}>
              Paramètres
            </Link>
          </nav>
        ) : null}
        <div className="ml-auto flex items-center gap-2">
          {user ? (
            <>
              <span className="hidden text-slate-600 lg:inline" title="Connecté(e)">
                {user.name}
              </span>
              <form action={signOutAction}>
                <button type="submit" className={link}>
                  Se déconnecter
                </button>
              </form>
            </>
          ) : (
            <Link href="/connexion" className={link}>
              Se connecter
            </Link>
          )}
        </div>
      </div>
    </header>
  );
}

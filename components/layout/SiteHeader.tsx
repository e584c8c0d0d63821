import Link from "next/link";
import type { User } from "@/server/generated/prisma/client";
import { signOutAction } from "@/components/auth/sign-out-action";

const link =
  "rounded-md px-3 py-2 font-medium text-slate-700 hover:bg-slate-100 hover:text-slate-900 focus-visible:outline-3 focus-visible:outline-sky-600";

type Item = { href: string; label: string };

/** Where each role goes: teachers reach their class codes, admins the administration pages. */
function itemsFor(role: User["role"]): Item[] {
  const items: Item[] = [];
  if (role !== "STUDENT") items.push({ href: "/activites", label: "Mes activités" }, { href: "/enseignant/codes", label: "Codes de classe" });
  items.push({ href: "/copies", label: "Mes copies" });
  if (role === "ADMIN") items.push({ href: "/admin/serveurs", label: "Serveurs" }, { href: "/admin/profils", label: "Profils ENT" });
  items.push({ href: "/parametres", label: "Paramètres" });
  return items;
}

function SignOut({ className }: { className?: string }) {
  return (
    <form action={signOutAction} className={className}>
      <button type="submit" className={`${link} w-full text-left`}>
        Se déconnecter
      </button>
    </form>
  );
}

/**
 * The bar at the top of every page: the name, where to go for this role, who is signed in. On a phone it is one row:
 * the links fold into a "Menu" disclosure (a native <details>, no script needed).
 */
export function SiteHeader({ user }: { user: Pick<User, "name" | "role"> | null }) {
  const items = user ? itemsFor(user.role) : [];
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl items-center gap-x-4 gap-y-2 px-4 py-2 sm:flex-wrap sm:px-6 sm:py-3">
        <Link href="/" className="mr-2 flex items-center gap-2 rounded-md text-xl font-bold tracking-tight text-slate-900 focus-visible:outline-3 focus-visible:outline-sky-600">
          <span aria-hidden="true" className="grid h-8 w-8 place-items-center rounded-lg bg-sky-700 text-base text-white">
            C
          </span>
          Carnet
        </Link>
        {user ? (
          <>
            <nav aria-label="Navigation principale" className="hidden flex-wrap items-center gap-1 md:flex">
              {items.map((i) => (
                <Link key={i.href} href={i.href} className={link}>
                  {i.label}
                </Link>
              ))}
            </nav>
            <div className="ml-auto hidden items-center gap-2 md:flex">
              <span className="hidden text-slate-600 lg:inline" title="Connecté(e)">
                {user.name}
              </span>
              <SignOut />
            </div>
            <details className="group relative ml-auto md:hidden" data-testid="mobile-menu">
              <summary className={`${link} flex min-h-11 cursor-pointer list-none items-center gap-2 border border-slate-300 [&::-webkit-details-marker]:hidden`}>
                Menu
                <span aria-hidden="true" className="transition-transform group-open:rotate-180">
                  ▾
                </span>
              </summary>
              <nav aria-label="Navigation principale" className="absolute right-0 z-40 mt-2 flex w-60 flex-col rounded-xl border border-slate-200 bg-white p-2 shadow-lg">
                <span className="px-3 py-2 text-sm text-slate-600">{user.name}</span>
                {items.map((i) => (
                  <Link key={i.href} href={i.href} className={link}>
                    {i.label}
                  </Link>
                ))}
                <SignOut />
              </nav>
            </details>
          </>
        ) : (
          <div className="ml-auto flex items-center gap-2">
            <Link href="/connexion" className={link}>
              Se connecter
            </Link>
          </div>
        )}
      </div>
    </header>
  );
}

import { signIn } from "@/server/auth/nextauth";
import { buttonClass } from "@/components/ui/Button";

type Choice = { id: string; name: string; type: "cas" | "oidc" | "oauth2" };

/**
 * One button per identity provider. CAS goes through our own route (fixed service URL, target kept in a cookie);
 * OpenID Connect and OAuth2 through next-auth's signIn (PKCE, state, nonce, callbackUrl kept by next-auth).
 */
export function EntChoices({ choices, callbackUrl }: { choices: Choice[]; callbackUrl: string }) {
  if (choices.length === 0) return null;
  return (
    <nav aria-label="Choisissez votre ENT">
      {choices.length > 1 ? <h2 className="mb-3 text-lg font-semibold text-slate-900">Choisissez votre ENT</h2> : null}
      <ul className="space-y-3">
        {choices.map((c) => (
          <li key={c.id}>
            {c.type === "cas" ? (
              <a href={`/api/auth/cas/${c.id}/login?callbackUrl=${encodeURIComponent(callbackUrl)}`} className={buttonClass("secondary", "lg", "w-full")}>
                Se connecter avec {c.name}
              </a>
            ) : (
              <form
                action={async () => {
                  "use server";
                  await signIn(c.id, { redirectTo: callbackUrl });
                }}
              >
                <button type="submit" className={buttonClass("secondary", "lg", "w-full")}>
                  Se connecter avec {c.name}
                </button>
              </form>
            )}
          </li>
        ))}
      </ul>
    </nav>
  );
}

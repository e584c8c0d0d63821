import { signIn } from "@/server/auth/nextauth";
import { buttonClass } from "@/components/ui/Button";

/** One "Se connecter avec <ENT>" button per identity provider configured by the site. */
export function SsoButtons({ choices, callbackUrl }: { choices: { id: string; name: string }[]; callbackUrl: string }) {
  if (choices.length === 0) return null;
  return (
    <ul className="space-y-3">
      {choices.map((c) => (
        <li key={c.id}>
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
        </li>
      ))}
    </ul>
  );
}

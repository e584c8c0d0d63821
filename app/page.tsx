import { viewer } from "@/components/auth/session";
import { CodeForm } from "@/components/home/CodeForm";
import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";

export default async function Home() {
  const user = await viewer();
  const teacher = user && user.role !== "STUDENT";
  return (
    <div className="mx-auto max-w-2xl space-y-8 py-4 sm:py-10">
      <div className="space-y-3 text-center">
        <h1 className="text-4xl font-bold tracking-tight text-slate-900 sm:text-5xl">Carnet</h1>
        <p className="text-lg text-slate-700">
          Le professeur partage un notebook Jupyter avec sa classe&nbsp;; chaque élève reçoit sa propre copie, qu&apos;il retrouve à chaque
          connexion.
        </p>
      </div>
      <Card className="p-6 sm:p-8">
        <CodeForm />
      </Card>
      {user ? (
        <Card>
          <p className="mb-4 text-slate-700">
            Bonjour <strong>{user.name}</strong>&nbsp;!
          </p>
          <div className="flex flex-wrap gap-3">
            {teacher ? <ButtonLink href="/activites">Mes activités</ButtonLink> : null}
            <ButtonLink href="/copies" variant={teacher ? "secondary" : "primary"}>
              Mes copies
            </ButtonLink>
          </div>
        </Card>
      ) : (
        <p className="text-center text-slate-600">
          Déjà un compte&nbsp;?{" "}
          <a href="/connexion" className="font-medium text-sky-800 underline underline-offset-4">
            Connectez-vous
          </a>{" "}
          pour retrouver vos activités ou vos copies.
        </p>
      )}
    </div>
  );
}

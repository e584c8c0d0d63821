import { ButtonLink } from "@/components/ui/Button";
import { Card } from "@/components/ui/Card";

export default function NotFound() {
  return (
    <div className="mx-auto max-w-lg">
      <Card>
        <p className="mb-1 text-sm font-semibold text-slate-500">Erreur 404</p>
        <h1 className="mb-3 text-2xl font-bold">Page introuvable</h1>
        <p className="mb-6 text-slate-700">
          Cette page n&apos;existe pas, ou vous n&apos;y avez pas accès avec ce compte. Si quelqu&apos;un vous a donné ce lien, vérifiez-le avec lui.
        </p>
        <ButtonLink href="/">Retour à l&apos;accueil</ButtonLink>
      </Card>
    </div>
  );
}

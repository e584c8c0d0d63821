"use client";
import { useEffect } from "react";
import { Button, ButtonLink } from "@/components/ui/Button";
import { Card } from "@/components/ui/Card";

/** Unexpected errors: nothing internal is shown; the digest lets the administrator find the log line. */
export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <div className="mx-auto max-w-lg">
      <Card>
        <h1 className="mb-3 text-2xl font-bold">Un problème est survenu</h1>
        <p className="mb-2 text-slate-700">La page n&apos;a pas pu s&apos;afficher. Réessayez&nbsp;; si cela persiste, prévenez l&apos;administrateur de Carnet.</p>
        {error.digest ? <p className="mb-6 text-sm text-slate-500">Référence de l&apos;erreur&nbsp;: {error.digest}</p> : null}
        <div className="flex flex-wrap gap-3">
          <Button onClick={() => reset()}>Réessayer</Button>
          <ButtonLink href="/" variant="secondary">
            Accueil
          </ButtonLink>
        </div>
      </Card>
    </div>
  );
}

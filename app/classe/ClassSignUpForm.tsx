"use client";
import { useActionState } from "react";
import { useFormStatus } from "react-dom";
import { classSignUpAction, type ClassSignUpState } from "./actions";
import { Field, Input } from "@/components/ui/Field";
import { Button, ButtonLink } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";

function Submit() {
  const { pending } = useFormStatus();
  return (
    <Button type="submit" size="lg" className="w-full" disabled={pending}>
      {pending ? "Création…" : "Créer mon compte"}
    </Button>
  );
}

export function ClassSignUpForm() {
  const [state, action] = useActionState<ClassSignUpState, FormData>(classSignUpAction, {});
  if (state.username)
    return (
      <div className="space-y-4">
        <Alert tone="success">
          Votre compte est créé, {state.name}. Votre identifiant est <strong data-testid="new-username">{state.username}</strong> : notez-le avec votre mot de passe.
        </Alert>
        <ButtonLink href="/connexion" size="lg" className="w-full">
          Se connecter
        </ButtonLink>
      </div>
    );
  return (
    <form action={action} className="space-y-5" noValidate>
      {state.error ? (
        <Alert tone="error" id="class-error">
          {state.error}
        </Alert>
      ) : null}
      <Field label="Code de classe" htmlFor="code" hint="Donné par votre professeur, par exemple ABCDE-FGH23." hintId="code-hint">
        <Input id="code" name="code" required autoCapitalize="characters" autoComplete="off" spellCheck={false} defaultValue={state.code ?? ""} aria-describedby="code-hint" />
      </Field>
      <Field label="Prénom et nom" htmlFor="name">
        <Input id="name" name="name" required autoComplete="name" defaultValue={state.name ?? ""} />
      </Field>
      <Field label="Mot de passe" htmlFor="password" hint="Au moins 8 caractères." hintId="pw-hint">
        <Input id="password" name="password" type="password" required autoComplete="new-password" aria-describedby="pw-hint" />
      </Field>
      <Field label="Mot de passe (encore)" htmlFor="confirm">
        <Input id="confirm" name="confirm" type="password" required autoComplete="new-password" />
      </Field>
      <Submit />
    </form>
  );
}

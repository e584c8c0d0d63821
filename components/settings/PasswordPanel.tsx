"use client";
import { useActionState } from "react";
import { useFormStatus } from "react-dom";
import { Field, Input } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";

export type PasswordState = { error?: string };
type Action = (prev: PasswordState, data: FormData) => Promise<PasswordState>;

function Submit() {
  const { pending } = useFormStatus();
  return (
    <Button type="submit" disabled={pending}>
      {pending ? "Changement…" : "Changer mon mot de passe"}
    </Button>
  );
}

/**
 * Change one's own password: the current one, the new one twice. `action` is app/parametres/actions.ts
 * changePasswordAction (given by the page: components do not import app/).
 */
export function PasswordPanel({ action }: { action: Action }) {
  const [state, formAction] = useActionState<PasswordState, FormData>(action, {});
  return (
    <form action={formAction} className="max-w-md space-y-4" noValidate>
      {state.error ? (
        <Alert tone="error" id="password-error">
          {state.error}
        </Alert>
      ) : null}
      <Field label="Mot de passe actuel" htmlFor="current-password">
        <Input id="current-password" name="current" type="password" required autoComplete="current-password" />
      </Field>
      <Field label="Nouveau mot de passe" htmlFor="new-password" hint="Au moins 8 caractères." hintId="new-password-hint">
        <Input id="new-password" name="next" type="password" required autoComplete="new-password" aria-describedby="new-password-hint" />
      </Field>
      <Field label="Nouveau mot de passe (encore)" htmlFor="confirm-password">
        <Input id="confirm-password" name="confirm" type="password" required autoComplete="new-password" />
      </Field>
      <Submit />
    </form>
  );
}

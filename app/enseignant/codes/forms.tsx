"use client";
import { useActionState } from "react";
import { createCodeAction, resetPasswordAction, type FormState } from "./actions";
import { Field, Input, Select } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";

export function CreateCodeForm() {
  const [state, action, pending] = useActionState<FormState, FormData>(createCodeAction, {});
  return (
    <form action={action} className="space-y-4">
      {state.error ? <Alert tone="error">{state.error}</Alert> : null}
      {state.code ? (
        <Alert tone="success">
          Code créé : <strong className="font-mono text-xl tracking-wider" data-testid="class-code">{state.code}</strong>. Notez-le maintenant : il ne sera plus affiché. Les élèves
          le saisissent sur la page « Créer mon compte » (/classe).
        </Alert>
      ) : null}
      <div className="grid gap-4 sm:grid-cols-3">
        <Field label="Classe" htmlFor="label">
          <Input id="label" name="label" required placeholder="2nde 3" maxLength={64} />
        </Field>
        <Field label="Valable pendant" htmlFor="hours">
          <Select id="hours" name="hours" defaultValue="2">
            <option value="1">1 heure</option>
            <option value="2">2 heures</option>
            <option value="4">4 heures</option>
            <option value="24">1 jour</option>
            <option value="48">2 jours</option>
          </Select>
        </Field>
        <Field label="Nombre d'élèves au plus" htmlFor="maxUses">
          <Input id="maxUses" name="maxUses" type="number" min={1} max={500} defaultValue={35} required />
        </Field>
      </div>
      <Button type="submit" disabled={pending}>
        Créer un code de classe
      </Button>
    </form>
  );
}

export function ResetPasswordForm({ userId, name }: { userId: string; name: string }) {
  const [state, action, pending] = useActionState<FormState, FormData>(resetPasswordAction, {});
  return (
    <form action={action} className="flex flex-wrap items-center gap-2">
      <input type="hidden" name="userId" value={userId} />
      <label className="sr-only" htmlFor={`pw-${userId}`}>
        Nouveau mot de passe pour {name}
      </label>
      <Input id={`pw-${userId}`} name="password" type="text" autoComplete="off" placeholder="Nouveau mot de passe" className="max-w-56" required minLength={8} />
      <Button type="submit" size="sm" variant="secondary" disabled={pending}>
        Changer
      </Button>
      {state.error ? <span className="text-sm text-red-700" role="alert">{state.error}</span> : null}
      {state.ok ? <span className="text-sm text-emerald-700" role="status">{state.ok}</span> : null}
    </form>
  );
}

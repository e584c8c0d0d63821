"use client";
import { useActionState } from "react";
import { useFormStatus } from "react-dom";
import { goToCode, type CodeState } from "./code-action";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { inputClass } from "@/components/ui/Field";
import { cx } from "@/components/ui/cx";

function Go() {
  const { pending } = useFormStatus();
  return (
    <Button type="submit" size="lg" disabled={pending} className="sm:w-auto">
      {pending ? "Ouverture…" : "Ouvrir"}
    </Button>
  );
}

/** A big field for the share code; works without JavaScript too (a plain form post to a server action). */
export function CodeForm() {
  const [state, action] = useActionState<CodeState, FormData>(goToCode, {});
  return (
    <form action={action} className="space-y-3" noValidate>
      <label htmlFor="code" className="block text-lg font-semibold text-slate-900">
        Entrez le code de l&apos;activité
      </label>
      <div className="flex flex-col gap-3 sm:flex-row">
        <input
          id="code"
          name="code"
          defaultValue={state.value ?? ""}
          placeholder="ABC-DEF-GHJ"
          autoComplete="off"
          autoCapitalize="characters"
          autoCorrect="off"
          spellCheck={false}
          inputMode="text"
          maxLength={20}
          aria-describedby={state.error ? "code-error" : "code-hint"}
          aria-invalid={state.error ? true : undefined}
          className={cx(inputClass, "share-code min-h-13 flex-1 text-center text-2xl uppercase sm:text-left")}
        />
        <Go />
      </div>
      {state.error ? (
        <Alert tone="error" id="code-error">
          {state.error}
        </Alert>
      ) : (
        <p id="code-hint" className="text-sm text-slate-600">
          Le code est affiché par votre professeur. Majuscules, minuscules et tirets : peu importe.
        </p>
      )}
    </form>
  );
}

"use client";
/** The activity's dates and access (PATCH /api/v1/activities/{id}: opensAt, closesAt, accessMode, feedbackRelease). */
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Field, Input } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { fromParisInput, toParisInput } from "@/components/ui/paris-time";
import { callApi } from "./upload";

const MODES = [
  { value: "open", label: "Sans restriction", hint: "La date limite est indiquée aux élèves ; ils peuvent continuer après." },
  { value: "readonly", label: "Rendu automatique, puis lecture seule", hint: "À la date limite, les copies sont rendues ; les élèves les voient sans pouvoir les modifier." },
  { value: "locked", label: "Rendu automatique, puis verrouillée", hint: "Hors des dates, les élèves ne voient même pas leur copie." },
] as const;

export function AccessWindowForm({ id, opensAt, closesAt, accessMode, feedbackRelease }: { id: string; opensAt: string | null; closesAt: string | null; accessMode: string; feedbackRelease: string }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [msg, setMsg] = useState<{ tone: "error" | "success"; text: string } | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const open = String(data.get("opensAt") ?? "");
    const close = String(data.get("closesAt") ?? "");
    const body = {
      opensAt: open ? fromParisInput(open) : null,
      closesAt: close ? fromParisInput(close) : null,
      accessMode: String(data.get("accessMode") ?? "open"),
      feedbackRelease: String(data.get("feedbackRelease") ?? "graded"),
    };
    if ((open && !body.opensAt) || (close && !body.closesAt)) return setMsg({ tone: "error", text: "Date illisible : utilisez le format jj/mm/aaaa hh:mm." });
    busy.current = true;
    setSending(true);
    const res = await callApi(`/api/v1/activities/${id}`, { method: "PATCH", body: JSON.stringify(body) });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setMsg({ tone: "success", text: "Dates et accès enregistrés." });
      router.refresh();
    } else setMsg({ tone: "error", text: res.message });
  }

  return (
    <form onSubmit={submit} className="space-y-4" noValidate aria-label="Dates et accès">
      {msg ? <Alert tone={msg.tone}>{msg.text}</Alert> : null}
      <div className="grid gap-4 sm:grid-cols-2">
        <Field label="Ouverture (heure de Paris)" htmlFor="opens-at" hint="Vide : ouverte dès maintenant." hintId="opens-at-hint">
          <Input id="opens-at" name="opensAt" type="datetime-local" defaultValue={toParisInput(opensAt)} aria-describedby="opens-at-hint" disabled={sending} />
        </Field>
        <Field label="Date limite (heure de Paris)" htmlFor="closes-at" hint="Vide : pas de date limite." hintId="closes-at-hint">
          <Input id="closes-at" name="closesAt" type="datetime-local" defaultValue={toParisInput(closesAt)} aria-describedby="closes-at-hint" disabled={sending} />
        </Field>
      </div>
      <fieldset className="space-y-2">
        <legend className="mb-1 font-medium text-slate-800">À la date limite</legend>
        {MODES.map((m) => (
          <label key={m.value} className="flex items-start gap-2 text-slate-800">
            <input type="radio" name="accessMode" value={m.value} defaultChecked={accessMode === m.value} disabled={sending} className="mt-1.5 h-4 w-4 accent-sky-700" />
            <span>
              {m.label}
              <span className="block text-sm text-slate-600">{m.hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      <fieldset className="space-y-2">
        <legend className="mb-1 font-medium text-slate-800">Les élèves voient l&apos;évaluation, l&apos;appréciation et les commentaires</legend>
        <label className="flex items-center gap-2 text-slate-800">
          <input type="radio" name="feedbackRelease" value="graded" defaultChecked={feedbackRelease !== "immediate"} disabled={sending} className="h-4 w-4 accent-sky-700" />
          quand je marque la copie «&nbsp;Corrigée&nbsp;»
        </label>
        <label className="flex items-center gap-2 text-slate-800">
          <input type="radio" name="feedbackRelease" value="immediate" defaultChecked={feedbackRelease === "immediate"} disabled={sending} className="h-4 w-4 accent-sky-700" />
          dès que je les écris
        </label>
      </fieldset>
      <Button type="submit" disabled={sending}>
        {sending ? "Enregistrement…" : "Enregistrer les dates"}
      </Button>
    </form>
  );
}

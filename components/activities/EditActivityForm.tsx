"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Field, Input, Textarea } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { callApi } from "./upload";

/** Rename the activity, edit its description, allow Internet access (PATCH /api/v1/activities/{id}). */
export function EditActivityForm({ id, title, description, allowNetwork }: { id: string; title: string; description: string; allowNetwork: boolean }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [msg, setMsg] = useState<{ tone: "error" | "success"; text: string } | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const next = { title: String(data.get("title") ?? "").trim(), description: String(data.get("description") ?? ""), allowNetwork: data.get("allowNetwork") === "on" };
    if (!next.title) return setMsg({ tone: "error", text: "Le titre ne peut pas être vide." });
    busy.current = true;
    setSending(true);
    const res = await callApi(`/api/v1/activities/${id}`, { method: "PATCH", body: JSON.stringify(next) });
    busy.current = false;
    setSending(false);
    if (res.ok) {
      setMsg({ tone: "success", text: "Modifications enregistrées." });
      router.refresh();
    } else setMsg({ tone: "error", text: res.message });
  }

  return (
    <form onSubmit={submit} className="space-y-4" noValidate>
      {msg ? <Alert tone={msg.tone}>{msg.text}</Alert> : null}
      <Field label="Titre" htmlFor="edit-title">
        <Input id="edit-title" name="title" defaultValue={title} required maxLength={200} disabled={sending} />
      </Field>
      <Field label="Consigne (affichée en haut de la copie des élèves)" htmlFor="edit-description">
        <Textarea id="edit-description" name="description" defaultValue={description} maxLength={5000} rows={3} disabled={sending} />
      </Field>
      <label className="flex items-start gap-2 text-sm text-slate-700">
        <input type="checkbox" name="allowNetwork" defaultChecked={allowNetwork} disabled={sending} className="mt-1" />
        <span>
          Autoriser l&apos;accès à Internet depuis les carnets des élèves (par exemple pour lire des données en ligne).
          Sans cette case, le code des élèves ne peut rien télécharger. S&apos;applique aux serveurs démarrés ensuite.
        </span>
      </label>
      <Button type="submit" disabled={sending}>
        {sending ? "Enregistrement…" : "Enregistrer"}
      </Button>
    </form>
  );
}

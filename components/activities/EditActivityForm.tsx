"use client";
import { useRef, useState, type FormEvent } from "react";
import { useRouter } from "next/navigation";
import { Field, Input, Textarea } from "@/components/ui/Field";
import { Button } from "@/components/ui/Button";
import { Alert } from "@/components/ui/Alert";
import { callApi } from "./upload";

/** Rename the activity and edit its description (PATCH /api/v1/activities/{id}). */
export function EditActivityForm({ id, title, description }: { id: string; title: string; description: string }) {
  const router = useRouter();
  const busy = useRef(false);
  const [sending, setSending] = useState(false);
  const [msg, setMsg] = useState<{ tone: "error" | "success"; text: string } | null>(null);

  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (busy.current) return;
    const data = new FormData(e.currentTarget);
    const next = { title: String(data.get("title") ?? "").trim(), description: String(data.get("description") ?? "") };
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
      <Field label="Description" htmlFor="edit-description">
        <Textarea id="edit-description" name="description" defaultValue={description} maxLength={5000} rows={3} disabled={sending} />
      </Field>
      <Button type="submit" disabled={sending}>
        {sending ? "Enregistrement…" : "Enregistrer"}
      </Button>
    </form>
  );
}

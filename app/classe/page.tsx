import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { Card } from "@/components/ui/Card";
import { env } from "@/server/env";
import { ClassSignUpForm } from "./ClassSignUpForm";

export const metadata: Metadata = { title: "Créer mon compte avec un code de classe" };

/** Students of schools without an ENT create their account with their teacher's class code. */
export default function ClassSignUpPage() {
  if (!env().CARNET_LOCAL_ACCOUNTS) notFound();
  return (
    <div className="mx-auto max-w-md">
      <h1 className="mb-2 text-center text-3xl font-bold tracking-tight">Créer mon compte</h1>
      <p className="mb-6 text-center text-slate-600">Avec le code de classe donné par votre professeur.</p>
      <Card>
        <ClassSignUpForm />
      </Card>
    </div>
  );
}

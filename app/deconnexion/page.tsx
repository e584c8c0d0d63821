import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { viewer } from "@/components/auth/session";
import { Card } from "@/components/ui/Card";
import { Button } from "@/components/ui/Button";
import { signOutAction } from "@/components/auth/sign-out-action";

export const metadata: Metadata = { title: "Se déconnecter" };

export default async function SignOutPage() {
  const user = await viewer();
  if (!user) redirect("/");
  return (
    <div className="mx-auto max-w-md">
      <Card>
        <h1 className="mb-2 text-2xl font-bold">Se déconnecter</h1>
        <p className="mb-6 text-slate-700">
          Vous êtes connecté(e) en tant que <strong>{user.name}</strong>. Sur un ordinateur partagé, pensez à vous déconnecter en partant.
        </p>
        <form action={signOutAction}>
          <Button type="submit" size="lg" className="w-full">
            Se déconnecter
          </Button>
        </form>
      </Card>
    </div>
  );
}

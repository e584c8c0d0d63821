import { Card } from "@/components/ui/Card";
import { ButtonLink } from "@/components/ui/Button";

/** What a student sees instead of their copy while a locked activity is outside its window. */
export function ClosedCopy({ message }: { message: string }) {
  return (
    <div className="mx-auto max-w-lg">
      <Card>
        <h1 className="mb-3 text-2xl font-bold">Copie verrouillée</h1>
        <p className="mb-6 text-slate-700" data-testid="closed-copy">
          {message}
        </p>
        <ButtonLink href="/copies">Mes copies</ButtonLink>
      </Card>
    </div>
  );
}

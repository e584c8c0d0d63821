/** French dates and numbers for display, always in Paris time (the server may run in UTC). */
const dateTime = new Intl.DateTimeFormat("fr-FR", { timeZone: "Europe/Paris", dateStyle: "medium", timeStyle: "short" });
const dateOnly = new Intl.DateTimeFormat("fr-FR", { timeZone: "Europe/Paris", dateStyle: "long" });

/** « 12 nov. 2026, 14:05 » */
export function formatDateTime(d: Date | string | null | undefined): string {
  if (!d) return "—";
  return dateTime.format(new Date(d));
}

/** « 12 novembre 2026 » */
export function formatDate(d: Date | string | null | undefined): string {
  if (!d) return "—";
  return dateOnly.format(new Date(d));
}

/** « 1 copie », « 0 copie », « 12 copies » (French: 0 and 1 are singular). */
export function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("fr-FR")}\u00a0${Math.abs(n) < 2 ? one : many}`;
}

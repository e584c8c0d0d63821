/** Dates as French users read them, always in Paris time (the server may run in UTC). */

const long = new Intl.DateTimeFormat("fr-FR", { timeZone: "Europe/Paris", dateStyle: "full", timeStyle: "short" });
const parts = new Intl.DateTimeFormat("fr-FR", {
  timeZone: "Europe/Paris",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

/** « mardi 12 novembre 2026 à 14:05 » */
export function frenchDateTime(d: Date): string {
  return long.format(d);
}

/**
 * « 12/11/2026 14:05 » in Paris time: what French Excel reads as a date and time in a CSV cell (summer and winter
 * time included). Empty for null.
 */
export function excelParis(d: Date | null | undefined): string {
  if (!d) return "";
  const p = Object.fromEntries(parts.formatToParts(d).map((x) => [x.type, x.value]));
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

/**
 * Dates typed in <input type="datetime-local"> are Paris wall times (every date Carnet shows is in Paris time,
 * whatever the server's or the browser's zone): conversions both ways, the same on the server and in the browser.
 */
const fmt = new Intl.DateTimeFormat("en-CA", {
  timeZone: "Europe/Paris",
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

function parisParts(d: Date) {
  const p = Object.fromEntries(fmt.formatToParts(d).map((x) => [x.type, x.value]));
  return { y: Number(p.year), mo: Number(p.month), d: Number(p.day), h: Number(p.hour), mi: Number(p.minute) };
}

/** « 2026-11-12T14:05 » (Paris) for an instant, or "" for null. */
export function toParisInput(iso: string | Date | null | undefined): string {
  if (!iso) return "";
  const p = parisParts(new Date(iso));
  const two = (n: number) => String(n).padStart(2, "0");
  return `${p.y}-${two(p.mo)}-${two(p.d)}T${two(p.h)}:${two(p.mi)}`;
}

/** The instant of a Paris wall time « 2026-11-12T14:05 » as ISO 8601 (UTC), or null for "" / unreadable. */
export function fromParisInput(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi] = m.slice(1).map(Number) as [number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  let t = wall;
  // Paris is UTC+1 or UTC+2: two rounds settle the offset, around the changes of time too.
  for (let i = 0; i < 2; i++) {
    const p = parisParts(new Date(t));
    t = wall - (Date.UTC(p.y, p.mo - 1, p.d, p.h, p.mi) - t);
  }
  return new Date(t).toISOString();
}

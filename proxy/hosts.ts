/**
 * One origin per copy: where a copy's live notebook is served, shared by the proxy and the portal.
 *
 *   CARNET_NOTEBOOK_URL=https://nb.carnet-lycees.fr  ->  https://<label>.nb.carnet-lycees.fr/nb/<copyId>/…
 *   unset, CARNET_PUBLIC_URL on loopback          ->  http://<label>.nb.localhost:<PORT>/nb/<copyId>/…
 *   CARNET_NOTEBOOK_URL=same-origin               ->  the portal's own origin (no isolation; loud in the logs)
 *
 * A copy id is base64url (upper case, `-`, `_`); host names are case-insensitive and a label may not start with `-`.
 * The label is the id's 6-bit characters rewritten as lower-case base32 (a–z, 2–7): one id, one label, both ways.
 * Imports nothing (the portal imports it through proxy/client.ts).
 */

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B32 = "abcdefghijklmnopqrstuvwxyz234567";
/** The longest id whose label fits in one DNS label (63 characters). */
export const MAX_LABEL_ID_LENGTH = 52;

/** The host label of a copy (27 characters for Carnet's 22-character ids). Throws for an id that cannot be one. */
export function hostLabel(copyId: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(copyId) || copyId.length > MAX_LABEL_ID_LENGTH) {
    throw new Error(`copy id cannot be a host label: ${JSON.stringify(copyId)}`);
  }
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const c of copyId) {
    acc = (acc << 6) | B64URL.indexOf(c);
    bits += 6;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

/** The copy id of a host label, or null when the label is not exactly hostLabel(id) of some id. */
export function copyIdOfLabel(label: string): string | null {
  if (!/^[a-z2-7]{2,63}$/.test(label)) return null;
  const n = Math.floor((label.length * 5) / 6);
  if (n < 1 || Math.ceil((n * 6) / 5) !== label.length) return null;
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const c of label) {
    acc = (acc << 5) | B32.indexOf(c);
    bits += 5;
    if (bits >= 6 && out.length < n) {
      bits -= 6;
      out += B64URL[(acc >> bits) & 63];
    }
    acc &= (1 << bits) - 1;
  }
  // Canonical only: the padding bits are zero, so a copy has exactly one host.
  return acc === 0 ? out : null;
}

export type NotebookSite =
  | {
      kind: "subdomain";
      protocol: "http:" | "https:";
      /** Lower case, e.g. "nb.localhost" or "nb.carnet-lycees.fr". */
      domain: string;
      /** "" for the protocol's default port. */
      port: string;
    }
  | { kind: "same-origin"; origin: string };

export class NotebookUrlError extends Error {
  override name = "NotebookUrlError";
}

const LOOPBACK = /^(127(\.\d{1,3}){3}|localhost|\[::1\]|::1)$/i;

/** True for 127.x.x.x, localhost, *.localhost and ::1. */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname) || /\.localhost$/i.test(hostname);
}

/**
 * Where notebooks are served, from CARNET_NOTEBOOK_URL (`value`) and CARNET_PUBLIC_URL. Throws NotebookUrlError with
 * a French message when the value is not usable, or when it is missing and the public URL is not a loopback one.
 */
export function parseNotebookSite(value: string | undefined, publicUrl: string): NotebookSite {
  const pub = new URL(publicUrl);
  if (value === undefined || value === "") {
    if (!isLoopbackHost(pub.hostname)) {
      throw new NotebookUrlError(
        "obligatoire quand CARNET_PUBLIC_URL n'est pas une adresse locale : les carnets des élèves doivent être servis sur leur propre domaine, " +
          "par exemple https://nb.carnet-lycees.fr (DNS *.nb.carnet-lycees.fr et certificat joker, voir docs/proxy.md), " +
          "ou, sans isolation, CARNET_NOTEBOOK_URL=same-origin (déconseillé)",
      );
    }
    return { kind: "subdomain", protocol: pub.protocol as "http:" | "https:", domain: "nb.localhost", port: pub.port };
  }
  if (value === "same-origin") return { kind: "same-origin", origin: pub.origin };
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new NotebookUrlError("doit être une URL, par exemple https://nb.carnet-lycees.fr (ou same-origin)");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new NotebookUrlError("doit commencer par https:// ou http://");
  if ((u.pathname !== "/" && u.pathname !== "") || u.search || u.hash || u.username || u.password) {
    throw new NotebookUrlError("doit être une adresse seule, sans chemin ni paramètres, par exemple https://nb.carnet-lycees.fr");
  }
  const domain = u.hostname.toLowerCase();
  if (/^[\d.]+$/.test(domain) || domain.startsWith("[")) {
    throw new NotebookUrlError("doit être un nom de domaine (chaque copie en reçoit un sous-domaine), pas une adresse IP");
  }
  if (pub.protocol === "https:" && u.protocol !== "https:") {
    throw new NotebookUrlError("doit être en https:// comme CARNET_PUBLIC_URL");
  }
  if (domain === pub.hostname.toLowerCase()) {
    throw new NotebookUrlError("doit être un autre domaine que celui du portail (CARNET_PUBLIC_URL), par exemple nb.<domaine du portail>");
  }
  return { kind: "subdomain", protocol: u.protocol, domain, port: u.port };
}

/**
 * What a site should know about its notebook origin, in French, for the logs at start (empty when all is well):
 * no isolation at all, or a notebook domain that probably shares the portal's registrable domain.
 */
export function notebookSiteWarnings(site: NotebookSite, publicUrl: string): string[] {
  if (site.kind === "same-origin") {
    return [
      "CARNET_NOTEBOOK_URL=same-origin : les carnets des élèves sont servis sur l'origine du portail. Un script écrit par un élève " +
        "s'exécute avec la session de l'enseignant qui ouvre sa copie en direct et peut agir sur le portail en son nom. " +
        "Configurez un domaine pour les carnets (docs/proxy.md).",
    ];
  }
  const pub = new URL(publicUrl).hostname.toLowerCase();
  if (isLoopbackHost(pub)) return [];
  const tail = (h: string) => h.split(".").slice(-2).join(".");
  if (tail(pub) === tail(site.domain)) {
    return [
      `Le domaine des carnets (${site.domain}) partage probablement le domaine enregistrable du portail (${pub}) : une page de carnet ` +
        "peut y déposer des cookies (cookie tossing). Un domaine séparé (par exemple carnet-nb.fr) est recommandé (docs/proxy.md).",
    ];
  }
  return [];
}

/** The origin a copy's notebook is served from (no trailing slash). */
export function notebookOrigin(site: NotebookSite, copyId: string): string {
  if (site.kind === "same-origin") return site.origin;
  return `${site.protocol}//${hostLabel(copyId)}.${site.domain}${site.port ? `:${site.port}` : ""}`;
}

/**
 * The copy whose notebook host this Host header names, or null (the portal's host, another host, a bad label).
 * Always null for same-origin sites.
 */
export function copyIdOfHost(site: NotebookSite, hostHeader: string | undefined): string | null {
  if (site.kind !== "subdomain" || !hostHeader) return null;
  const m = /^([^:]+)(?::(\d+))?$/.exec(hostHeader.trim().toLowerCase());
  if (!m?.[1]) return null;
  const name = m[1].replace(/\.$/, "");
  const defaultPort = site.protocol === "https:" ? "443" : "80";
  if ((m[2] ?? defaultPort) !== (site.port || defaultPort)) return null;
  const suffix = `.${site.domain}`;
  if (!name.endsWith(suffix)) return null;
  const label = name.slice(0, -suffix.length);
  return label.includes(".") ? null : copyIdOfLabel(label);
}

/** True when a Host header names some notebook host of this site (a valid label or not). */
export function isNotebookDomain(site: NotebookSite, hostHeader: string | undefined): boolean {
  if (site.kind !== "subdomain" || !hostHeader) return false;
  const name = hostHeader.trim().toLowerCase().replace(/:\d+$/, "").replace(/\.$/, "");
  return name === site.domain || name.endsWith(`.${site.domain}`);
}

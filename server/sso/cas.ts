/**
 * The CAS protocol (Apereo CAS 2.0 and 3.0), independent of next-auth: login and logout URLs, service ticket
 * validation server to server, and the parsing of the three attribute layouts French ENTs send.
 * The service URL is always the fixed one the caller passes (Carnet's own callback, allow-listed by the ENT):
 * it never comes from the request.
 */
import "server-only";
import { parseXml, XmlError, type XmlElement } from "./xml";

export const CAS_NS = "http://www.yale.edu/tp/cas";

export type CasAttributes = Record<string, string[]>;

export interface CasSuccess {
  user: string;
  attributes: CasAttributes;
}

export type CasErrorCode =
  | "INVALID_REQUEST"
  | "INVALID_TICKET_SPEC"
  | "UNAUTHORIZED_SERVICE_PROXY"
  | "INVALID_PROXY_CALLBACK"
  | "INVALID_TICKET"
  | "INVALID_SERVICE"
  | "INTERNAL_ERROR"
  | "BAD_RESPONSE"
  | "UNREACHABLE"
  | "MALFORMED_TICKET";

/** A refused or failed validation. `code` is the CAS failure code, or ours for transport and parsing problems. */
export class CasError extends Error {
  constructor(
    readonly code: CasErrorCode | string,
    message: string,
  ) {
    super(message);
    this.name = "CasError";
  }
}

/** Builds the URL of the CAS login page for `service`. */
export function casLoginUrl(serverUrl: string, service: string, opts: { renew?: boolean; gateway?: boolean } = {}): string {
  const u = new URL(`${serverUrl.replace(/\/+$/, "")}/login`);
  u.searchParams.set("service", service);
  if (opts.renew) u.searchParams.set("renew", "true");
  if (opts.gateway) u.searchParams.set("gateway", "true");
  return u.toString();
}

/** Builds the URL of the CAS logout page; `service` (where to come back) is optional and ignored by some servers. */
export function casLogoutUrl(serverUrl: string, service?: string): string {
  const u = new URL(`${serverUrl.replace(/\/+$/, "")}/logout`);
  if (service) u.searchParams.set("service", service);
  return u.toString();
}

const TICKET = /^ST-[A-Za-z0-9._-]{1,256}$/;

/** True if `ticket` looks like a CAS service ticket (prefix ST-, at most 256 safe characters). */
export function isTicketSyntax(ticket: string): boolean {
  return TICKET.test(ticket);
}

export interface ValidateOptions {
  /** The CAS server's base URL, e.g. https://ent.example.fr/cas */
  serverUrl: string;
  /** The fixed service URL the ticket was issued for. */
  service: string;
  ticket: string;
  /** "3" uses /p3/serviceValidate (attributes), "2" uses /serviceValidate. */
  version?: "2" | "3";
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Validates a service ticket against the CAS server. Returns the user and attributes; throws CasError
 * (INVALID_TICKET, INVALID_SERVICE, ... from the server; MALFORMED_TICKET, UNREACHABLE, BAD_RESPONSE ours).
 * Not idempotent: a CAS server accepts a ticket once.
 */
export async function validateServiceTicket(o: ValidateOptions): Promise<CasSuccess> {
  if (!isTicketSyntax(o.ticket)) throw new CasError("MALFORMED_TICKET", "Ticket CAS mal formé.");
  const path = o.version === "2" ? "/serviceValidate" : "/p3/serviceValidate";
  const u = new URL(`${o.serverUrl.replace(/\/+$/, "")}${path}`);
  u.searchParams.set("service", o.service);
  u.searchParams.set("ticket", o.ticket);
  let body: string;
  try {
    const res = await (o.fetch ?? fetch)(u, {
      headers: { accept: "application/xml, text/xml" },
      redirect: "error",
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
    if (!res.ok) throw new CasError("BAD_RESPONSE", `Le serveur CAS a répondu ${res.status}.`);
    body = await res.text();
  } catch (e) {
    if (e instanceof CasError) throw e;
    throw new CasError("UNREACHABLE", `Serveur CAS injoignable (${(e as Error).name}).`);
  }
  return parseServiceResponse(body);
}

const PROTOCOL_CHILDREN = new Set(["user", "attributes", "proxyGrantingTicket", "proxies", "attribute"]);

/**
 * Parses a /serviceValidate or /p3/serviceValidate response. Throws CasError with the server's code on
 * authenticationFailure, BAD_RESPONSE on anything else (including hostile XML).
 * Attributes are collected from all three layouts, merged, values in order, duplicates removed:
 *  1. `<cas:attributes><cas:X>v</cas:X>...</cas:attributes>` (CAS 3 standard);
 *  2. `<cas:attribute name="X" value="v"/>` pairs (inside or beside `<cas:attributes>`);
 *  3. `<cas:X>v</cas:X>` as siblings of `<cas:user>` (several ENTs).
 */
export function parseServiceResponse(xml: string): CasSuccess {
  let root: XmlElement;
  try {
    root = parseXml(xml);
  } catch (e) {
    if (e instanceof XmlError) throw new CasError("BAD_RESPONSE", `Réponse CAS refusée : ${e.message}`);
    throw e;
  }
  if (root.name !== "serviceResponse" || root.ns !== CAS_NS) throw new CasError("BAD_RESPONSE", "Réponse CAS inattendue.");
  const failure = root.children.find((c) => c.name === "authenticationFailure");
  if (failure) {
    const code = (failure.attrs.code ?? "INTERNAL_ERROR").trim().slice(0, 64);
    throw new CasError(code, failure.text.trim().slice(0, 300) || code);
  }
  const success = root.children.find((c) => c.name === "authenticationSuccess" && c.ns === CAS_NS);
  if (!success) throw new CasError("BAD_RESPONSE", "Réponse CAS sans authenticationSuccess.");
  const userEl = success.children.find((c) => c.name === "user" && c.ns === CAS_NS);
  const user = userEl?.text.trim() ?? "";
  if (!user || user.length > 256) throw new CasError("BAD_RESPONSE", "Réponse CAS sans utilisateur.");

  const attributes: CasAttributes = {};
  const add = (name: string, value: string) => {
    const v = value.trim();
    if (!name || name.length > 128 || !v) return;
    if (name === "__proto__" || name === "constructor" || name === "prototype") return;
    const list = (attributes[name] ??= []);
    if (!list.includes(v) && list.length < 500) list.push(v.slice(0, 1000));
  };
  const pair = (el: XmlElement) => {
    if (el.attrs.name !== undefined) add(el.attrs.name, el.attrs.value ?? el.text);
  };
  for (const child of success.children) {
    if (child.name === "attributes") {
      for (const a of child.children) {
        if (a.name === "attribute" && a.attrs.name !== undefined) pair(a);
        else if (a.children.length === 0) add(a.name, a.text);
      }
    } else if (child.name === "attribute") {
      pair(child);
    } else if (!PROTOCOL_CHILDREN.has(child.name) && child.children.length === 0) {
      add(child.name, child.text);
    }
  }
  return { user, attributes };
}

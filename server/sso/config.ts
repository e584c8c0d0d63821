/**
 * The site's identity providers, from a JSON file (CARNET_SSO_CONFIG=/path/to/sso.json) or inline JSON
 * (CARNET_SSO_JSON), validated with zod once at start with a French message per bad value. See docs/sso.md.
 */
import "server-only";
import fs from "node:fs";
import { z } from "zod";
import { env } from "../env";

const id = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, "identifiant : lettres minuscules, chiffres et tirets (40 au plus), par exemple « monlycee »")
  .refine((v) => !["local", "credentials", "cas", "signin", "callback"].includes(v), "identifiant réservé");

const list = z.union([z.string(), z.array(z.string())]).transform((v) => (Array.isArray(v) ? v : [v]));
const httpUrl = z
  .url({ message: "doit être une URL http(s)" })
  .refine((u) => /^https?:\/\//.test(u), "doit être une URL http(s)")
  .transform((u) => u.replace(/\/+$/, ""));

/** Which IdP attribute (or claim) gives each piece of the profile; the first one present wins. */
const attributes = z
  .object({
    subject: list.optional(),
    profile: list.optional(),
    displayName: list.optional(),
    firstName: list.optional(),
    lastName: list.optional(),
    school: list.optional(),
    classes: list.optional(),
  })
  .strict()
  .default({});

const roles = z
  .object({ teacher: z.array(z.string()).default([]), student: z.array(z.string()).default([]) })
  .strict()
  .default({ teacher: [], student: [] });

const common = {
  id,
  name: z.string().min(1).max(80),
  attributes,
  roles,
  /** Offer the IdP's logout page after Carnet's sign-out. */
  logout: z.boolean().default(true),
};

const cas = z
  .object({
    ...common,
    type: z.literal("cas"),
    /** Base URL of the CAS server (…/cas), /login, /p3/serviceValidate and /logout are appended. */
    serverUrl: httpUrl,
    version: z.enum(["2", "3"]).default("3"),
  })
  .strict();

const oidc = z
  .object({
    ...common,
    type: z.literal("oidc"),
    issuer: httpUrl,
    clientId: z.string().min(1),
    clientSecret: z.string().min(1).optional(),
    scope: z.string().default("openid profile"),
    /** Also read the userinfo endpoint (claims not in the ID token). */
    userinfo: z.boolean().default(true),
    /** Logout page (end_session_endpoint); defaults to the discovered one. */
    logoutUrl: httpUrl.optional(),
  })
  .strict();

/**
 * Plain OAuth2 with explicit endpoints, the role only in userinfo. `preset: "edifice"` fills the endpoints of an
 * Open ENT NG / Edifice platform (NEO, ONE, Monlycée.net…) from `baseUrl`.
 */
const oauth2 = z
  .object({
    ...common,
    type: z.literal("oauth2"),
    preset: z.enum(["edifice"]).optional(),
    baseUrl: httpUrl.optional(),
    authorizationUrl: httpUrl.optional(),
    tokenUrl: httpUrl.optional(),
    userinfoUrl: httpUrl.optional(),
    logoutUrl: httpUrl.optional(),
    clientId: z.string().min(1),
    clientSecret: z.string().min(1),
    scope: z.string().default("userinfo"),
  })
  .strict()
  .transform((p, ctx) => {
    const base = p.baseUrl;
    const filled = {
      ...p,
      authorizationUrl: p.authorizationUrl ?? (p.preset === "edifice" && base ? `${base}/auth/oauth2/auth` : undefined),
      tokenUrl: p.tokenUrl ?? (p.preset === "edifice" && base ? `${base}/auth/oauth2/token` : undefined),
      userinfoUrl: p.userinfoUrl ?? (p.preset === "edifice" && base ? `${base}/auth/oauth2/userinfo` : undefined),
      logoutUrl: p.logoutUrl ?? (p.preset === "edifice" && base ? `${base}/auth/logout` : undefined),
    };
    for (const k of ["authorizationUrl", "tokenUrl", "userinfoUrl"] as const) {
      if (!filled[k]) ctx.addIssue({ code: "custom", path: [k], message: "requis (ou preset « edifice » avec baseUrl)" });
    }
    return filled as typeof filled & { authorizationUrl: string; tokenUrl: string; userinfoUrl: string };
  });

const provider = z.discriminatedUnion("type", [cas, oidc, oauth2]);

export const ssoConfigSchema = z
  .object({ providers: z.array(provider).max(20).default([]) })
  .strict()
  .superRefine((c, ctx) => {
    const seen = new Set<string>();
    c.providers.forEach((p, i) => {
      if (seen.has(p.id)) ctx.addIssue({ code: "custom", path: ["providers", i, "id"], message: `identifiant « ${p.id} » en double` });
      seen.add(p.id);
    });
  });

export type SsoConfig = z.output<typeof ssoConfigSchema>;
export type SsoProviderConfig = SsoConfig["providers"][number];
export type CasProviderConfig = Extract<SsoProviderConfig, { type: "cas" }>;
export type OidcProviderConfig = Extract<SsoProviderConfig, { type: "oidc" }>;
export type OAuth2ProviderConfig = Extract<SsoProviderConfig, { type: "oauth2" }>;

export class SsoConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SsoConfigError";
  }
}

/** Parses and validates a configuration (an object or JSON text). Throws SsoConfigError listing every problem. */
export function parseSsoConfig(input: unknown, source = "configuration SSO"): SsoConfig {
  let data = input;
  if (typeof input === "string") {
    try {
      data = JSON.parse(input);
    } catch (e) {
      throw new SsoConfigError(`${source} : JSON invalide (${(e as Error).message}).`);
    }
  }
  const r = ssoConfigSchema.safeParse(data);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(racine)"} : ${i.message}`);
    throw new SsoConfigError(`${source} invalide :\n${lines.join("\n")}\nVoir docs/sso.md.`);
  }
  return r.data;
}

const KEY = Symbol.for("carnet.sso");
type G = typeof globalThis & { [KEY]?: SsoConfig };

/** The site's SSO configuration (read once; empty when neither CARNET_SSO_CONFIG nor CARNET_SSO_JSON is set). */
export function ssoConfig(): SsoConfig {
  const g = globalThis as G;
  if (g[KEY]) return g[KEY];
  const e = env();
  let cfg: SsoConfig = { providers: [] };
  if (e.CARNET_SSO_JSON) cfg = parseSsoConfig(e.CARNET_SSO_JSON, "CARNET_SSO_JSON");
  else if (e.CARNET_SSO_CONFIG) {
    let text: string;
    try {
      text = fs.readFileSync(e.CARNET_SSO_CONFIG, "utf8");
    } catch (err) {
      throw new SsoConfigError(`CARNET_SSO_CONFIG : fichier illisible ${e.CARNET_SSO_CONFIG} (${(err as NodeJS.ErrnoException).code}).`);
    }
    cfg = parseSsoConfig(text, e.CARNET_SSO_CONFIG);
  }
  return (g[KEY] = cfg);
}

/** For tests: replace the configuration of this process. */
export function setSsoConfig(c: SsoConfig | undefined): void {
  (globalThis as G)[KEY] = c;
}

/** The provider with this id, or undefined. */
export function ssoProvider(providerId: string): SsoProviderConfig | undefined {
  return ssoConfig().providers.find((p) => p.id === providerId);
}

/**
 * An Edifice-shaped OAuth2 provider for tests (Open ENT NG: NEO, ONE, Monlycée.net): authorization code with PKCE
 * on /auth/oauth2/auth and /auth/oauth2/token, no ID token, and the role only in /auth/oauth2/userinfo (`type`).
 * Plain node:http on 127.0.0.1 and a free port; fixture users log in with a form.
 */
import http from "node:http";
import crypto from "node:crypto";
import { freePort } from "./util";

export interface EdificeFixtureUser {
  login: string;
  password: string;
  userinfo: Record<string, unknown>;
}

export const EDIFICE_USERS: EdificeFixtureUser[] = [
  {
    login: "eleve.neo",
    password: "eleve-neo-secret",
    userinfo: { userId: "5f2c-eleve", login: "eleve.neo", username: "Inès Moreau", firstName: "Inès", lastName: "Moreau", type: "Student", classNames: ["1ERE2"], uai: ["0750001A"] },
  },
  {
    login: "prof.neo",
    password: "prof-neo-secret",
    userinfo: { userId: "7a1b-prof", login: "prof.neo", username: "Marc Petit", firstName: "Marc", lastName: "Petit", type: "Teacher", classNames: ["1ERE2"], uai: ["0750001A"] },
  },
];

export interface EdificeServer {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  stop(): Promise<void>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  let body = "";
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 100_000) throw new Error("too large");
  }
  return new URLSearchParams(body);
}

export async function startEdificeServer(opts: { users?: EdificeFixtureUser[] } = {}): Promise<EdificeServer> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const users = opts.users ?? EDIFICE_USERS;
  const clientId = "carnet";
  const clientSecret = "carnet-edifice-secret";
  const codes = new Map<string, { login: string; redirectUri: string; challenge: string; exp: number }>();
  const tokens = new Map<string, string>();

  const server = http.createServer((req, res) => void (async () => {
    try {
      const url = new URL(req.url ?? "/", baseUrl);
      const send = (status: number, body: unknown, type = "application/json") => {
        res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
        res.end(typeof body === "string" ? body : JSON.stringify(body));
      };
      if (url.pathname === "/auth/oauth2/auth" && req.method === "GET") {
        const p = url.searchParams;
        if (p.get("client_id") !== clientId || p.get("response_type") !== "code" || p.get("code_challenge_method") !== "S256" || !p.get("code_challenge"))
          return send(400, { error: "invalid_request" });
        const hidden = ["redirect_uri", "state", "code_challenge", "scope"].map((k) => `<input type="hidden" name="${k}" value="${esc(p.get(k) ?? "")}">`).join("");
        return send(200, `<!doctype html><meta charset="utf-8"><title>ENT Edifice</title><h1>ENT (Edifice)</h1>
<form method="post" action="/auth/oauth2/auth">${hidden}<label>Identifiant <input name="login"></label>
<label>Mot de passe <input name="password" type="password"></label><button type="submit">Se connecter</button></form>`, "text/html; charset=utf-8");
      }
      if (url.pathname === "/auth/oauth2/auth" && req.method === "POST") {
        const f = await readForm(req);
        const user = users.find((u) => u.login === f.get("login") && u.password === f.get("password"));
        if (!user) return send(401, "<p>Identifiant ou mot de passe incorrect.</p>", "text/html; charset=utf-8");
        const code = crypto.randomBytes(16).toString("hex");
        codes.set(code, { login: user.login, redirectUri: f.get("redirect_uri") ?? "", challenge: f.get("code_challenge") ?? "", exp: Date.now() + 60_000 });
        const back = new URL(f.get("redirect_uri") ?? "");
        back.searchParams.set("code", code);
        if (f.get("state")) back.searchParams.set("state", f.get("state")!);
        res.writeHead(302, { location: back.toString() });
        return res.end();
      }
      if (url.pathname === "/auth/oauth2/token" && req.method === "POST") {
        const f = await readForm(req);
        const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        const [id, secret] = basic
          ? Buffer.from(basic, "base64").toString().split(":").map(decodeURIComponent)
          : [f.get("client_id"), f.get("client_secret")];
        if (id !== clientId || secret !== clientSecret) return send(401, { error: "invalid_client" });
        const c = codes.get(f.get("code") ?? "");
        codes.delete(f.get("code") ?? "");
        const verifier = f.get("code_verifier") ?? "";
        const challenge = crypto.createHash("sha256").update(verifier).digest("base64url");
        if (!c || c.exp < Date.now() || c.redirectUri !== f.get("redirect_uri") || challenge !== c.challenge) return send(400, { error: "invalid_grant" });
        const token = crypto.randomBytes(24).toString("hex");
        tokens.set(token, c.login);
        return send(200, { access_token: token, token_type: "Bearer", expires_in: 3600, scope: "userinfo" });
      }
      if (url.pathname === "/auth/oauth2/userinfo" && req.method === "GET") {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
        const login = token ? tokens.get(token) : undefined;
        const user = users.find((u) => u.login === login);
        if (!user) return send(401, { error: "invalid_token" });
        return send(200, user.userinfo);
      }
      if (url.pathname === "/auth/logout") return send(200, "<p>Déconnecté de l'ENT.</p>", "text/html; charset=utf-8");
      send(404, { error: "not_found" });
    } catch {
      res.writeHead(500).end();
    }
  })());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    baseUrl,
    clientId,
    clientSecret,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The proxy's own answers: small French HTML pages for browsers, `{error:{code,message}}` JSON for everyone else. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { STATUS_CODES } from "node:http";

export type ErrorCode =
  | "unauthenticated"
  | "misdirected"
  | "forbidden"
  | "csrf"
  | "not_found"
  | "bad_request"
  | "bad_gateway"
  | "unavailable"
  | "read_only"
  | "deadline_passed"
  | "internal";

/** True for requests a person's browser made to show a page (as opposed to fetch/XHR/API clients). */
export function wantsHtml(req: IncomingMessage): boolean {
  return (req.headers.accept ?? "").includes("text/html");
}

function escapeHtml(s: string): string {
  // Attributes are always double-quoted, so apostrophes (frequent in French) can stay as they are.
  return s.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Carnet</title>
<style>
body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#1f2937;line-height:1.5}
h1{font-size:1.4rem}
a.button{display:inline-block;margin-top:1rem;padding:.6rem 1.1rem;border-radius:.4rem;background:#1d4ed8;color:#fff;text-decoration:none}
a.button:focus,a.button:hover{background:#1e40af}
</style>
</head>
<body>
<main>
<h1>${escapeHtml(title)}</h1>
${body}
</main>
</body>
</html>
`;
}

const HTML_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
};

/** Sends a JSON error. */
export function sendJsonError(res: ServerResponse, status: number, code: ErrorCode, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
  });
  res.end(body);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { ...HTML_HEADERS, "content-length": Buffer.byteLength(html) });
  res.end(html);
}

/**
 * 404 for an unknown prefix and for a copy the caller may not open: the same answer, so nothing is revealed.
 * `portal` is the portal's URL (pages on a notebook host link back to it).
 */
export function sendNotFound(req: IncomingMessage, res: ServerResponse, portal = ""): void {
  const message = "Ce carnet n'existe pas ou vous n'y avez pas accès.";
  if (wantsHtml(req)) {
    sendHtml(
      res,
      404,
      page("Carnet introuvable", `<p>${escapeHtml(message)}</p><p><a class="button" href="${escapeHtml(`${portal}/`)}">Retour à l'accueil</a></p>`),
    );
  } else sendJsonError(res, 404, "not_found", message);
}

/**
 * 400 when the hand-over from the portal failed (a code used twice or too late, a state that does not match the
 * browser's): a link starts it again; no automatic retry, so a broken browser cannot loop.
 */
export function sendHandoffFailed(req: IncomingMessage, res: ServerResponse, retry: string): void {
  const message = "La connexion à ce carnet a échoué ou a expiré. Réessayez.";
  if (wantsHtml(req)) {
    sendHtml(
      res,
      400,
      page(
        "Connexion au carnet expirée",
        `<p>Le lien de connexion à ce carnet n'est plus valable (déjà utilisé, trop ancien ou ouvert dans un autre navigateur).</p>` +
          `<p><a class="button" href="${escapeHtml(retry)}">Ouvrir le carnet</a></p>`,
      ),
    );
  } else sendJsonError(res, 400, "bad_request", message);
}

/** 502 when the copy's Jupyter server does not answer: it is stopped; the copy page (on the portal) restarts it. */
export function sendServerStopped(req: IncomingMessage, res: ServerResponse, copyId: string, portal = ""): void {
  const message = "Le serveur de ce carnet est arrêté. Ouvrez la copie pour le redémarrer.";
  if (wantsHtml(req)) {
    const href = `${portal}/copies/${encodeURIComponent(copyId)}`;
    sendHtml(
      res,
      502,
      page(
        "Le serveur de ce carnet est arrêté",
        `<p>Le serveur Jupyter de cette copie ne répond pas : il a été arrêté (inactivité, redémarrage ou erreur). ` +
          `Votre travail enregistré est conservé.</p>` +
          `<p><a class="button" href="${escapeHtml(href)}">Redémarrer le serveur</a></p>`,
      ),
    );
  } else sendJsonError(res, 502, "bad_gateway", message);
}

/** 502 when the portal (Next.js) does not answer, e.g. while it restarts. */
export function sendPortalDown(req: IncomingMessage, res: ServerResponse): void {
  const message = "Carnet redémarre. Réessayez dans quelques secondes.";
  if (wantsHtml(req)) {
    sendHtml(res, 502, page("Carnet redémarre", `<p>${escapeHtml(message)}</p><p><a class="button" href="">Réessayer</a></p>`));
  } else sendJsonError(res, 502, "bad_gateway", message);
}

/** Answers an upgrade request with a plain HTTP error and closes the socket (there is no WebSocket to speak over). */
export function rejectUpgrade(socket: Duplex, status: number, code: ErrorCode, message: string): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n` +
      `Content-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Cache-Control: no-store\r\n` +
      `Connection: close\r\n\r\n` +
      body,
    () => socket.destroy(),
  );
}

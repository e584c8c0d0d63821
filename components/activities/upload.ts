/**
 * Sends a multipart form with XMLHttpRequest (fetch cannot report upload progress) and reads Carnet's JSON answer.
 * Errors come back as the API's French message, or a French sentence for network failures.
 */
export type UploadResult<T> = { ok: true; status: number; data: T } | { ok: false; status: number; message: string };

export function sendMultipart<T>(url: string, method: "POST" | "PUT", body: FormData, onProgress: (fraction: number) => void): Promise<UploadResult<T>> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url);
    xhr.responseType = "text";
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.upload.onload = () => onProgress(1);
    xhr.onload = () => {
      let json: unknown = null;
      try {
        json = JSON.parse(xhr.responseText);
      } catch {
        /* not JSON: a proxy error page, for instance */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve({ ok: true, status: xhr.status, data: json as T });
      else resolve({ ok: false, status: xhr.status, message: apiMessage(json, xhr.status) });
    };
    xhr.onerror = () => resolve({ ok: false, status: 0, message: "L'envoi a échoué : la connexion au serveur a été interrompue. Vérifiez le réseau et réessayez." });
    xhr.ontimeout = () => resolve({ ok: false, status: 0, message: "L'envoi a pris trop de temps. Réessayez, ou avec des fichiers plus petits." });
    xhr.send(body);
  });
}

/** The French message of an API error body, or a sensible one from the status. */
export function apiMessage(json: unknown, status: number): string {
  const m = (json as { error?: { message?: unknown } } | null)?.error?.message;
  if (typeof m === "string" && m) return m;
  if (status === 413) return "Les fichiers sont trop volumineux pour ce serveur.";
  if (status === 401) return "Votre session a expiré : reconnectez-vous (dans un autre onglet) puis réessayez.";
  if (status === 403) return "Vous n'avez pas le droit de faire cela.";
  return `Le serveur a répondu par une erreur (${status}). Réessayez ; si cela persiste, prévenez l'administrateur.`;
}

/** fetch + JSON for the small calls (PATCH, DELETE, tokens), with the same French errors. */
export async function callApi<T>(url: string, init: RequestInit): Promise<UploadResult<T>> {
  try {
    const res = await fetch(url, { ...init, headers: { accept: "application/json", ...(init.body && typeof init.body === "string" ? { "content-type": "application/json" } : {}), ...init.headers } });
    const json = await res.json().catch(() => null);
    return res.ok ? { ok: true, status: res.status, data: json as T } : { ok: false, status: res.status, message: apiMessage(json, res.status) };
  } catch {
    return { ok: false, status: 0, message: "Le serveur ne répond pas. Vérifiez le réseau et réessayez." };
  }
}

/** « 1,2 Mo » */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n}\u00a0o`;
  if (n < 1024 * 1024) return `${(n / 1024).toLocaleString("fr-FR", { maximumFractionDigits: 0 })}\u00a0ko`;
  return `${(n / 1024 / 1024).toLocaleString("fr-FR", { maximumFractionDigits: 1 })}\u00a0Mo`;
}

/** One error class with a code; mapped to an HTTP status in one place (toResponse in server/http.ts). */
export type ErrorCode =
  | "bad_request"
  | "invalid_notebook"
  | "invalid_file_name"
  | "too_large"
  | "zip_bomb"
  | "unauthenticated"
  | "forbidden"
  | "csrf"
  | "reauth_required"
  | "not_found"
  | "conflict"
  | "rate_limited"
  | "server_full"
  | "too_many_servers"
  | "unavailable"
  | "internal";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_notebook: 422,
  invalid_file_name: 422,
  too_large: 413,
  zip_bomb: 413,
  unauthenticated: 401,
  forbidden: 403,
  csrf: 403,
  reauth_required: 403,
  not_found: 404,
  conflict: 409,
  rate_limited: 429,
  server_full: 503,
  too_many_servers: 409,
  unavailable: 503,
  internal: 500,
};

/** An error a user may see: `message` is French, safe to show, and says what to do. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details?: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }
}

export const notFound = (what = "Ressource") => new AppError("not_found", `${what} introuvable.`);
export const forbidden = (msg = "Vous n'avez pas accès à cette ressource.") => new AppError("forbidden", msg);

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError || (e instanceof Error && e.name === "AppError" && "code" in e);
}

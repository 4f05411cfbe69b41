/**
 * How a request to the Kubernetes API fails, as types callers can act on: the server answered with a
 * failure (ApiError, with its HTTP code and metav1.Status reason), or nothing answered (TransportError).
 */
const REASONS: Readonly<Record<number, string>> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The apiserver answered with a failure (an HTTP status ≥ 400, or an ERROR event in a watch). `code` is
 * the HTTP status and `reason` the metav1.Status reason (NotFound, AlreadyExists, Conflict, Expired,
 * Gone, Invalid...), so callers can tell "already done" from "retry" from "give up".
 */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  /** The metav1.Status body when the server sent one. */
  readonly status: Readonly<Record<string, unknown>> | undefined;
  /** From Status details or the Retry-After header (429, 503), when the server suggested a wait. */
  readonly retryAfterSeconds: number | undefined;

  constructor(method: string, path: string, code: number, status: unknown, retryAfterHeader?: string) {
    const s = isRecord(status) ? status : undefined;
    const reason = typeof s?.reason === "string" && s.reason !== "" ? s.reason : (REASONS[code] ?? "Unknown");
    const detail = typeof s?.message === "string" ? s.message : "";
    super(`${method} ${path}: ${code} ${reason}${detail === "" ? "" : `: ${detail}`}`);
    this.name = "ApiError";
    this.code = code;
    this.reason = reason;
    this.method = method;
    this.path = path;
    this.status = s;
    const details = isRecord(s?.details) ? s.details : undefined;
    const fromDetails =
      typeof details?.retryAfterSeconds === "number" ? details.retryAfterSeconds : undefined;
    const fromHeader = retryAfterHeader === undefined ? Number.NaN : Number(retryAfterHeader);
    this.retryAfterSeconds = fromDetails ?? (Number.isFinite(fromHeader) ? fromHeader : undefined);
  }
}

/** No HTTP answer at all: connection refused/reset, TLS failure, client-side timeout, a broken stream. */
export class TransportError extends Error {
  readonly method: string;
  readonly path: string;
  constructor(method: string, path: string, what: string, cause?: unknown) {
    const why = cause instanceof Error ? causeChain(cause) : cause === undefined ? "" : String(cause);
    super(`${method} ${path}: ${what}${why === "" ? "" : `: ${why}`}`, { cause });
    this.name = "TransportError";
    this.method = method;
    this.path = path;
  }
}

/** undici hides the useful part ("connect ECONNREFUSED") in `cause`. */
function causeChain(err: Error): string {
  const parts = [err.message];
  let c: unknown = err.cause;
  for (let i = 0; i < 4 && c instanceof Error; i++, c = c.cause) parts.push(c.message);
  return parts.join(": ");
}

export const isNotFound = (e: unknown): boolean => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 409 && e.reason !== "AlreadyExists";
export const isAlreadyExists = (e: unknown): boolean =>
  e instanceof ApiError && e.code === 409 && e.reason === "AlreadyExists";
/** 410: the resourceVersion asked for is no longer in etcd's or the watch cache's history. */
export const isGone = (e: unknown): boolean => e instanceof ApiError && e.code === 410;
export const isInvalid = (e: unknown): boolean => e instanceof ApiError && e.code === 422;

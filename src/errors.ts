// One error type for the whole server. Domain code throws AppError with a
// code; the HTTP layer maps it to a status + envelope and the WebSocket layer
// to an error Ack, each in exactly one place.
import { ZodError } from "zod";

export const ERROR_STATUS = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;
export type ErrorStatus = (typeof ERROR_STATUS)[ErrorCode];

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds a client should wait before trying again (429). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
  get status(): ErrorStatus {
    return ERROR_STATUS[this.code];
  }
}

export const badRequest = (msg: string) => new AppError("bad_request", msg);
export const unauthorized = (msg = "login required") => new AppError("unauthorized", msg);
export const forbidden = (msg: string) => new AppError("forbidden", msg);
export const notFound = (msg: string) => new AppError("not_found", msg);
export const conflict = (msg: string) => new AppError("conflict", msg);

/** A zod failure as one readable line that names the field. */
export function describeZodError(err: ZodError): string {
  return err.issues
    .slice(0, 3)
    .map((i) => `${i.path.length ? i.path.join(".") : "body"}: ${i.message}`)
    .join("; ");
}

/** Anything thrown becomes an AppError; unknown errors hide their internals. */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return badRequest(describeZodError(err));
  return new AppError("internal", "internal error");
}

export type Envelope<T> = { ok: boolean; code: number; msg: string | null; data: T | null };

export const okEnvelope = <T>(data: T) => ({ ok: true as const, code: 200 as const, msg: null, data }) satisfies Envelope<T>;

export const errorEnvelope = (err: AppError): Envelope<null> => ({ ok: false, code: err.status, msg: err.message, data: null });

export type ErrorAck = {
  clientMsgId: string | null;
  serverMsgId: null;
  kind: "Ack";
  content: "Error";
  code: number;
  msg: string;
};

export const toErrorAck = (err: AppError, clientMsgId: string | null): ErrorAck => ({
  clientMsgId,
  serverMsgId: null,
  kind: "Ack",
  content: "Error",
  code: err.status,
  msg: err.message,
});

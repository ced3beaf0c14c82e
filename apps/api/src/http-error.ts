/** An error whose status and message go to the client as they are (`{statusCode, error, message}`). */
import { STATUS_CODES } from 'node:http';

export class HttpError extends Error {
  readonly statusCode: number;

  /** `cause`: what went wrong underneath (a driver's error, with hosts and ports): logged with the request id, never sent */
  constructor(statusCode: number, message: string, cause?: unknown) {
    super(message, cause !== undefined ? { cause } : undefined);
    this.name = 'HttpError';
    this.statusCode = statusCode;
  }

  /** the body every error response has */
  toBody(): { statusCode: number; error: string; message: string } {
    return { statusCode: this.statusCode, error: STATUS_CODES[this.statusCode] ?? 'Error', message: this.message };
  }
}

export const badRequest = (message: string) => new HttpError(400, message);
export const notFound = (message: string) => new HttpError(404, message);
export const conflict = (message: string) => new HttpError(409, message);
export const forbidden = (message: string) => new HttpError(403, message);
export const gone = (message: string) => new HttpError(410, message);
export const unprocessable = (message: string) => new HttpError(422, message);
/** 429 with how long to wait, seconds (sent as Retry-After) */
export class TooManyRequests extends HttpError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(429, message);
  }
}

/**
 * 503 for a service the API needs (S3, Redis) that did not answer: the client learns which kind
 * and the request id; the driver's message (host:port, bucket internals) goes to the log only.
 */
export const unavailable = (message: string, cause: unknown) => new HttpError(503, message, cause);

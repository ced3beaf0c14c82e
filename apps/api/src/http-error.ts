/** An error whose status and message go to the client as they are (`{statusCode, error, message}`). */
import { STATUS_CODES } from 'node:http';

export class HttpError extends Error {
  readonly statusCode: number;

  constructor(statusCode: number, message: string) {
    super(message);
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

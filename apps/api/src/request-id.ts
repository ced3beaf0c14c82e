/**
 * The id of a request: the caller's `x-request-id` when it is a plain token (letters, digits and
 * `._:-`, at most 64 characters), else a fresh uuid — a client never puts markup, control
 * characters or megabytes into our logs and error bodies.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestId(req: IncomingMessage): string {
  const h = req.headers['x-request-id'];
  return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
}

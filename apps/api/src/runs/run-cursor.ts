/**
 * The GET /v1/runs page cursor: base64url of "<created_at ISO>|<id>", the last run of a page.
 * Opaque to clients; the next page is every run strictly before it in (created_at, id) desc order.
 */
import { badRequest } from '../http-error.ts';

export interface RunCursor {
  createdAt: Date;
  id: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function encodeRunCursor(c: RunCursor): string {
  return Buffer.from(`${c.createdAt.toISOString()}|${c.id}`, 'utf8').toString('base64url');
}

export function decodeRunCursor(s: string): RunCursor {
  const [time, id, ...rest] = Buffer.from(s, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(time);
  if (rest.length || !ISO.test(time ?? '') || Number.isNaN(createdAt.getTime()) || !UUID.test(id ?? '')) {
    throw badRequest('querystring/cursor is not a cursor this API returned');
  }
  return { createdAt, id };
}

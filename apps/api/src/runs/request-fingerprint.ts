/**
 * The sha256 of a submission, independent of key order and of `validateOnly`: what an
 * Idempotency-Key is bound to, so the same key with another body is told apart (422).
 */
import { createHash } from 'node:crypto';

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical((v as Record<string, unknown>)[k])]));
  }
  return v;
}

export function requestFingerprint(body: object): string {
  const { validateOnly: _ignored, ...rest } = body as Record<string, unknown>;
  return createHash('sha256').update(JSON.stringify(canonical(rest))).digest('hex');
}

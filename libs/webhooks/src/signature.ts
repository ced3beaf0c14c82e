/**
 * Webhook signatures: `X-CIM-Signature: t=<unix seconds>,v1=<hex>` where
 * hex = HMAC-SHA256(secret, `${t}.${body}`) over the exact bytes of the body. A receiver
 * recomputes it, compares in constant time, and refuses a t older (or newer) than its tolerance
 * (default 300 s), so a captured delivery cannot be replayed later. (Stripe's scheme.)
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-cim-signature';
/** replay window a receiver should accept, s */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** a new per-webhook secret: whsec_ + 32 random bytes, base64url */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

export function signatureHex(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

/** the X-CIM-Signature header value for `body` sent at `timestamp` (unix s) */
export function signatureHeader(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${signatureHex(secret, timestamp, body)}`;
}

export interface VerifyOptions {
  secret: string;
  /** the raw request body, exactly as received */
  body: string;
  /** the X-CIM-Signature header */
  header: string | undefined;
  toleranceSeconds?: number;
  /** unix s; default now */
  now?: number;
}

/** undefined when the signature is valid and fresh, else why not */
export function signatureProblem(o: VerifyOptions): string | undefined {
  if (!o.header) return 'no X-CIM-Signature header';
  const parts = new Map<string, string[]>();
  for (const kv of o.header.split(',')) {
    const i = kv.indexOf('=');
    if (i < 0) continue;
    const k = kv.slice(0, i).trim();
    parts.set(k, [...(parts.get(k) ?? []), kv.slice(i + 1).trim()]);
  }
  const t = Number(parts.get('t')?.[0]);
  if (!Number.isInteger(t)) return 'no t=<unix seconds> in the signature header';
  const now = o.now ?? Math.floor(Date.now() / 1000);
  const tolerance = o.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - t) > tolerance) return `timestamp ${t} is ${now - t} s from now, outside the ${tolerance} s window`;
  const expected = Buffer.from(signatureHex(o.secret, t, o.body), 'hex');
  const ok = (parts.get('v1') ?? []).some((v) => /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected));
  return ok ? undefined : 'no v1 signature matches';
}

export function verifyWebhookSignature(o: VerifyOptions): boolean {
  return signatureProblem(o) === undefined;
}

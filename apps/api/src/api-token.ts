/**
 * API tokens: "cimf_" + 32 random bytes in base64url (48 chars). Only the sha256 (hex) is stored;
 * the first 12 chars are kept as a prefix so users can tell tokens apart.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'cimf_';
export const TOKEN_PREFIX_LENGTH = 12;

export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url');
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenPrefix(token: string): string {
  return token.slice(0, TOKEN_PREFIX_LENGTH);
}

/** constant-time equality of two secrets of any length (compares their sha256 digests) */
export function secretsEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

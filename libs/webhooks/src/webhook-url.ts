/**
 * A webhook URL is checked when it is registered and again, after DNS resolution, on every
 * delivery (webhook-post.ts), so a name that resolved to a public address at registration and to
 * 127.0.0.1 later (DNS rebinding) is refused at the moment of connecting.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { AddressPolicy } from './address-policy.ts';

export class WebhookUrlError extends Error {
  override readonly name = 'WebhookUrlError';
}

/** longest accepted URL, chars */
export const MAX_WEBHOOK_URL = 2048;

export type Resolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** URL syntax alone: http(s), a host, no credentials, no fragment. Returns the parsed URL. */
export function parseWebhookUrl(text: string): URL {
  if (text.length > MAX_WEBHOOK_URL) throw new WebhookUrlError(`url is longer than ${MAX_WEBHOOK_URL} characters`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new WebhookUrlError(`url "${text}" is not an absolute URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new WebhookUrlError(`url must be http:// or https://, got ${u.protocol}//`);
  if (u.username || u.password)
    throw new WebhookUrlError('url must not carry credentials (user:password@); authenticate deliveries by their signature');
  if (u.hash) throw new WebhookUrlError('url must not have a #fragment');
  if (!u.hostname) throw new WebhookUrlError('url has no host');
  return u;
}

/** the host part as an address when it is a literal ("[::1]" → "::1"), else undefined */
export function literalAddress(u: URL): string | undefined {
  const h = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
  return isIP(h) ? h : undefined;
}

/** Syntax, then every address the host resolves to must be one the policy lets us reach. */
export async function checkWebhookUrl(text: string, policy: AddressPolicy, resolve: Resolver = systemResolver): Promise<URL> {
  const u = parseWebhookUrl(text);
  const literal = literalAddress(u);
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    try {
      addresses = (await resolve(u.hostname)).map((a) => a.address);
    } catch (e) {
      throw new WebhookUrlError(`url host "${u.hostname}" does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    if (addresses.length === 0) throw new WebhookUrlError(`url host "${u.hostname}" has no addresses`);
  }
  for (const a of addresses) {
    const why = policy.refusal(a);
    if (why) throw new WebhookUrlError(`url host "${u.hostname}" is not reachable for webhooks: ${why}`);
  }
  return u;
}

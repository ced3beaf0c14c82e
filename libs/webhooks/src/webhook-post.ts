/**
 * One delivery attempt: POST the body to the webhook URL, connecting only to addresses the policy
 * allows. The check runs inside the socket's own DNS lookup, so the address that is checked is the
 * address that is connected to (no second resolution an attacker's DNS could answer differently).
 * Redirects are not followed (a 3xx is a failed attempt): they would lead anywhere.
 * An attempt is bounded twice: by wall-clock time (`timeoutMs` from the start to the last response
 * byte, however steadily a receiver trickles) and by the response's size (`maxResponseBytes`: past
 * it the connection is cut and the attempt fails), so one slow receiver cannot hold a delivery slot.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import type { AddressPolicy } from './address-policy.ts';
import { literalAddress, parseWebhookUrl, WebhookUrlError } from './webhook-url.ts';

export interface WebhookPostOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  policy: AddressPolicy;
  /** whole attempt, ms: connect, send, and read the whole response */
  timeoutMs: number;
  /** the most response bytes read before the attempt fails (default 64 KiB) */
  maxResponseBytes?: number;
}

export interface WebhookPostResult {
  /** the response status, when there was a response */
  statusCode?: number;
  /** why it did not succeed; undefined on a 2xx */
  error?: string;
  /** true when retrying cannot help (an address the policy refuses) */
  refused: boolean;
  ms: number;
}

/** bytes of a response body kept for the error message */
const KEEP_RESPONSE = 300;
/** a receiver has nothing to say that needs more */
export const MAX_RESPONSE_BYTES = 64 * 1024;

class RefusedAddress extends Error {}

function guardedLookup(policy: AddressPolicy): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true, verbatim: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const list = addresses as unknown as LookupAddress[];
      for (const a of list) {
        const why = policy.refusal(a.address);
        if (why) return callback(new RefusedAddress(`${hostname} resolved to ${why}`), '', 0);
      }
      if (list.length === 0) return callback(new Error(`${hostname} has no addresses`), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      callback(null, list[0].address, list[0].family);
    });
  };
}

export async function postWebhook(o: WebhookPostOptions): Promise<WebhookPostResult> {
  const started = Date.now();
  const done = (r: Omit<WebhookPostResult, 'ms'>): WebhookPostResult => ({ ...r, ms: Date.now() - started });
  let u: URL;
  try {
    u = parseWebhookUrl(o.url);
  } catch (e) {
    return done({ error: (e as WebhookUrlError).message, refused: true });
  }
  const literal = literalAddress(u);
  if (literal) {
    const why = o.policy.refusal(literal);
    if (why) return done({ error: `refused: ${why}`, refused: true });
  }
  const mod = u.protocol === 'https:' ? https : http;
  const maxBytes = o.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: Omit<WebhookPostResult, 'ms'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(wallClock);
      resolve(done(r));
    };
    const req = mod.request(
      u,
      {
        method: 'POST',
        headers: { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) },
        lookup: guardedLookup(o.policy),
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let kept = 0;
        res.on('data', (c: Buffer) => {
          if (kept < KEEP_RESPONSE) chunks.push(c);
          kept += c.length;
          if (kept > maxBytes) {
            finish({ statusCode: res.statusCode, error: `response larger than ${maxBytes} bytes: cut off`, refused: false });
            req.destroy();
          }
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return finish({ statusCode: status, refused: false });
          const text = Buffer.concat(chunks).toString('utf8').slice(0, KEEP_RESPONSE).replace(/\s+/g, ' ').trim();
          const where =
            status >= 300 && status < 400 ? ` (redirects are not followed${res.headers.location ? `: ${res.headers.location}` : ''})` : '';
          finish({ statusCode: status, error: `HTTP ${status}${where}${text ? `: ${text}` : ''}`, refused: false });
        });
        res.on('error', (e) => finish({ statusCode: res.statusCode, error: `response: ${e.message}`, refused: false }));
      },
    );
    // total time, not silence: a receiver writing a byte a second resets no timer
    const wallClock = setTimeout(() => {
      finish({ error: `no complete response within ${o.timeoutMs} ms`, refused: false });
      req.destroy();
    }, o.timeoutMs);
    req.on('error', (e) => {
      const refused = e instanceof RefusedAddress;
      finish({ error: refused ? `refused: ${e.message}` : `${(e as NodeJS.ErrnoException).code ?? 'error'}: ${e.message}`, refused });
    });
    req.end(o.body);
  });
}

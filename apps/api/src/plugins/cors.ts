/**
 * CORS for the configured browser origins (CIM_CORS_ORIGINS): a portal on another origin may call
 * /v1 with its bearer token. Exact origins only (scheme://host[:port]); any other origin gets no
 * Access-Control-* headers, so the browser refuses to hand it the response. No cookies are used,
 * so credentials stay off.
 */
import fp from 'fastify-plugin';
import cors from '@fastify/cors';

export interface CorsOptions {
  /** exact origins, e.g. ["https://portal.example.com"]; empty = CORS off */
  origins: string[];
}

/** request headers a browser client may send (preflight answer) */
export const CORS_ALLOWED_HEADERS = ['authorization', 'content-type', 'idempotency-key', 'last-event-id', 'x-request-id'];
/** how long a browser may cache a preflight answer, s */
const PREFLIGHT_MAX_AGE = 600;

export default fp<CorsOptions>(
  async (app, opts) => {
    if (opts.origins.length === 0) return;
    const allowed = new Set(opts.origins);
    await app.register(cors, {
      origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: ['x-request-id', 'retry-after'],
      credentials: false,
      maxAge: PREFLIGHT_MAX_AGE,
    });
  },
  { name: 'cors', fastify: '5.x' },
);

/** "https://a.example, http://127.0.0.1:5173" → the origins, or the reasons they are not origins */
export function parseCorsOrigins(text: string | undefined): { origins: string[]; problems: string[] } {
  const origins: string[] = [];
  const problems: string[] = [];
  for (const raw of (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(raw);
    } catch {
      problems.push(`CIM_CORS_ORIGINS: "${raw}" is not an origin (scheme://host[:port])`);
      continue;
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== raw.replace(/\/$/, '')) {
      problems.push(`CIM_CORS_ORIGINS: "${raw}" must be an exact http(s) origin like https://portal.example.com (no path, no wildcard)`);
      continue;
    }
    origins.push(u.origin);
  }
  return { origins, problems };
}

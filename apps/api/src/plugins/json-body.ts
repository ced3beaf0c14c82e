/**
 * JSON bodies, parsed by Fastify's own parser (prototype-poisoning keys refused), then walked once
 * without recursion: nesting deeper than MAX_JSON_DEPTH and NUL characters (in keys or strings,
 * which PostgreSQL text and jsonb cannot hold) are a 400, not a 500 further down. A `%00` in the
 * URL is refused the same way.
 */
import fp from 'fastify-plugin';
import { HttpError, badRequest } from '../http-error.ts';

/** deepest accepted nesting of objects and arrays in a body (the deepest config is 4) */
export const MAX_JSON_DEPTH = 32;

/** the first problem of a parsed JSON value, or null */
export function jsonProblem(root: unknown, maxDepth = MAX_JSON_DEPTH): string | null {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: root, depth: 0, path: 'body' }];
  while (stack.length) {
    const { v, depth, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return `${path} contains a NUL character`;
    } else if (typeof v === 'object' && v !== null) {
      if (depth >= maxDepth) return `${path} is nested deeper than ${maxDepth} levels`;
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\u0000')) return `${path} has a key with a NUL character`;
        stack.push({ v: child, depth: depth + 1, path: `${path}/${Array.isArray(v) ? k : k.slice(0, 64)}` });
      }
    }
  }
  return null;
}

export default fp(
  async (app) => {
    const parse = app.getDefaultJsonParser('error', 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      parse(request, body as string, (err: Error | null, value?: unknown) => {
        if (err) return done(err);
        const problem = jsonProblem(value);
        return problem ? done(badRequest(problem)) : done(null, value);
      });
    });
    app.addHook('onRequest', async (request) => {
      if (/%00/i.test(request.url) || request.url.includes('\u0000')) throw new HttpError(400, 'the URL contains a NUL character');
    });
  },
  { name: 'json-body', fastify: '5.x' },
);

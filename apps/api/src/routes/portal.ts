/**
 * The portal (apps/portal, built by `npm run portal:build` into apps/portal/dist) as static files
 * at /: hashed assets under /assets/ (cached for a year), and index.html for every page path the
 * single-page app routes itself (so a shared URL opens the same view). JSON stays under /v1. When
 * the build is missing, / says how to make it. Source maps (`*.map`) are never served; the build makes none.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';

/** the portal's page paths (apps/portal/src/routing.ts) */
export const PORTAL_PAGES = [
  '/',
  '/signin',
  '/runs',
  '/runs/:id',
  '/maps',
  '/compare',
  '/submit',
  '/queue',
  '/sweeps',
  '/sweeps/new',
  '/sweeps/:id',
];

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>CIM Forge</title>
<p>The portal is not built. Run <code>npm run portal:build</code> (npm ci does it) and reload.
The REST API is at <a href="/docs">/docs</a>.</p>`;

export default async function portalRoutes(app: FastifyInstance, opts: { dir?: string }) {
  const dir = opts.dir;
  const built = dir !== undefined && existsSync(join(dir, 'index.html'));
  if (built) {
    await app.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/assets/',
      immutable: true,
      maxAge: '365d',
      index: false,
      // source maps would publish the portal's sources: never served, whatever the build left in dist
      allowedPath: (pathName) => !pathName.endsWith('.map'),
    });
  }
  for (const url of PORTAL_PAGES) {
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      reply.header('cache-control', 'no-cache');
      // figures and downloads are presigned S3 URLs on another origin: images may come from anywhere
      reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data: blob: http: https:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
      );
      if (!built) return reply.type('text/html; charset=utf-8').send(NOT_BUILT);
      return reply.sendFile('index.html', dir!);
    });
  }
  if (built) {
    for (const file of ['favicon.svg']) {
      if (existsSync(join(dir, file))) app.get(`/${file}`, { schema: { hide: true } }, (_req, reply) => reply.sendFile(file, dir!));
    }
  }
}

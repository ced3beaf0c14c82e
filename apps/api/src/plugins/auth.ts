/**
 * Bearer-token auth for /v1: `authenticate` (an onRequest hook) resolves the caller into
 * `request.principal`; `requireAdmin` (a route onRequest hook) refuses team tokens with 403.
 * Admin = the CIM_ADMIN_TOKEN (compared in constant time) or an api_tokens row with admin=true.
 */
import fp from 'fastify-plugin';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hashToken, secretsEqual } from '../api-token.ts';
import { HttpError, forbidden } from '../http-error.ts';
import type { Principal } from '../principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    authenticate(request: FastifyRequest, reply: FastifyReply): Promise<void>;
    requireAdmin(request: FastifyRequest, reply: FastifyReply): Promise<void>;
  }
}

/** last_used_at is written at most this often per token, ms */
const LAST_USED_EVERY_MS = 60_000;
const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,512})$/;

function unauthorized(message: string): HttpError {
  return new HttpError(401, message);
}

export interface AuthOptions {
  adminToken?: string;
}

export default fp<AuthOptions>(
  async (app, opts) => {
    const { db } = app.services;
    // tokenId → when this process last wrote its last_used_at, ms since epoch
    const lastWritten = new Map<string, number>();

    app.decorateRequest('principal', null);

    app.decorate('authenticate', async (request: FastifyRequest, reply: FastifyReply) => {
      const m = BEARER.exec(request.headers.authorization ?? '');
      if (!m) {
        reply.header('www-authenticate', 'Bearer');
        throw unauthorized("missing or malformed Authorization header: expected 'Bearer <token>'");
      }
      const token = m[1];
      if (opts.adminToken !== undefined && secretsEqual(token, opts.adminToken)) {
        request.principal = { admin: true, teamId: null, tokenId: null, tokenPrefix: 'admin-env' };
        return;
      }
      const row = await db.apiToken.findUnique({
        where: { tokenHash: hashToken(token) },
        select: { id: true, teamId: true, admin: true, prefix: true, revokedAt: true, expiresAt: true },
      });
      if (!row || row.revokedAt !== null) {
        reply.header('www-authenticate', 'Bearer error="invalid_token"');
        throw unauthorized('invalid or revoked token');
      }
      if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now()) {
        reply.header('www-authenticate', 'Bearer error="invalid_token", error_description="expired"');
        throw unauthorized(`token ${row.prefix}… expired at ${row.expiresAt.toISOString()}`);
      }
      request.principal = { admin: row.admin, teamId: row.teamId, tokenId: row.id, tokenPrefix: row.prefix };
      const now = Date.now();
      if (now - (lastWritten.get(row.id) ?? 0) >= LAST_USED_EVERY_MS) {
        lastWritten.set(row.id, now);
        // the condition keeps several API replicas from all writing within the same minute
        await db.$executeRaw`UPDATE api_tokens SET last_used_at = now()
          WHERE id = ${row.id}::uuid AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`;
      }
    });

    app.decorate('requireAdmin', async (request: FastifyRequest) => {
      if (!request.principal?.admin) throw forbidden('this route needs an admin token');
    });
  },
  { name: 'auth', fastify: '5.x', dependencies: ['services'] },
);

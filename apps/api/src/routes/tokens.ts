/**
 * Tokens. POST /v1/tokens (admin): a team token, or an admin token with {admin: true}, optionally
 * expiring; the secret is shown once. GET /v1/tokens: an admin sees every token (or one team's),
 * a team its own — prefixes, names, last use, expiry, never secrets. DELETE /v1/tokens/:id
 * revokes one (an admin any, a team its own); a revoked or expired token is a 401 at once.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { generateToken, hashToken, tokenPrefix } from '../api-token.ts';
import { badRequest, forbidden, notFound } from '../http-error.ts';
import { IsoTime, Nullable, Uuid, bearer, errors } from '../schemas/common.ts';

const CreatedToken = Type.Object({
  id: Uuid,
  token: Type.String({ description: 'the secret: shown this once, stored only as its sha256' }),
  prefix: Type.String({ description: 'its first 12 characters, to tell tokens apart' }),
  teamId: Nullable(Uuid),
  admin: Type.Boolean(),
  name: Nullable(Type.String()),
  createdAt: IsoTime,
  expiresAt: Nullable(IsoTime),
});

const TokenInfo = Type.Object({
  id: Uuid,
  prefix: Type.String(),
  teamId: Nullable(Uuid),
  admin: Type.Boolean(),
  name: Nullable(Type.String()),
  createdAt: IsoTime,
  lastUsedAt: Nullable(IsoTime),
  expiresAt: Nullable(IsoTime),
  revokedAt: Nullable(IsoTime),
});

/** longest token lifetime a client may ask for, s (one year) */
const MAX_EXPIRES_IN = 365 * 24 * 3600;

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

const tokenRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/tokens',
    {
      onRequest: app.requireAdmin,
      schema: {
        summary: 'Create an API token (admin)',
        description: 'Give teamId for a team token; {admin: true} (optionally with a teamId) for an admin token.',
        tags: ['admin'],
        security: bearer,
        body: Type.Object(
          {
            teamId: Type.Optional(Uuid),
            admin: Type.Optional(Type.Boolean()),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\u0000-\\u001f\\u007f]*$' })),
            expiresInSeconds: Type.Optional(
              Type.Integer({ minimum: 60, maximum: MAX_EXPIRES_IN, description: 'the token stops working after this long; default never' }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedToken, ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const { db } = app.services;
      const { teamId, admin = false, name, expiresInSeconds } = request.body;
      if (teamId === undefined && !admin) throw badRequest('body needs a teamId (a team token) or admin: true');
      if (teamId !== undefined && !(await db.team.findUnique({ where: { id: teamId }, select: { id: true } }))) {
        throw notFound(`team ${teamId} not found`);
      }
      const token = generateToken();
      const row = await db.apiToken.create({
        data: {
          teamId: teamId ?? null,
          admin,
          name: name ?? null,
          tokenHash: hashToken(token),
          prefix: tokenPrefix(token),
          expiresAt: expiresInSeconds !== undefined ? new Date(Date.now() + expiresInSeconds * 1000) : null,
        },
      });
      return reply.status(201).send({
        id: row.id,
        token,
        prefix: row.prefix,
        teamId: row.teamId,
        admin: row.admin,
        name: row.name,
        createdAt: row.createdAt.toISOString(),
        expiresAt: iso(row.expiresAt),
      });
    },
  );

  app.get(
    '/tokens',
    {
      schema: {
        summary: 'List tokens (no secrets)',
        description: "An admin sees every token, or one team's with ?teamId=; a team token sees its own team's.",
        tags: ['admin'],
        security: bearer,
        querystring: Type.Object(
          { teamId: Type.Optional(Uuid), includeRevoked: Type.Optional(Type.Boolean()) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ tokens: Type.Array(TokenInfo) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const p = request.principal!;
      const { teamId, includeRevoked = false } = request.query;
      if (!p.admin && teamId !== undefined && teamId !== p.teamId) throw forbidden("a team token lists only its own team's tokens");
      const scope = p.admin ? (teamId !== undefined ? { teamId } : {}) : { teamId: p.teamId };
      const rows = await app.services.db.apiToken.findMany({
        where: { ...scope, ...(includeRevoked ? {} : { revokedAt: null }) },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: 1000,
      });
      return {
        tokens: rows.map((r) => ({
          id: r.id,
          prefix: r.prefix,
          teamId: r.teamId,
          admin: r.admin,
          name: r.name,
          createdAt: r.createdAt.toISOString(),
          lastUsedAt: iso(r.lastUsedAt),
          expiresAt: iso(r.expiresAt),
          revokedAt: iso(r.revokedAt),
        })),
      };
    },
  );

  app.delete(
    '/tokens/:id',
    {
      schema: {
        summary: 'Revoke a token',
        description: 'An admin revokes any token, a team token one of its own team (itself included). Revoking twice is fine.',
        tags: ['admin'],
        security: bearer,
        params: Type.Object({ id: Uuid }),
        response: { 200: Type.Object({ id: Uuid, revokedAt: IsoTime }), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const p = request.principal!;
      const { db } = app.services;
      const row = await db.apiToken.findUnique({ where: { id: request.params.id } });
      // another team's token is as absent as a missing one
      if (!row || (!p.admin && (row.teamId === null || row.teamId !== p.teamId || row.admin)))
        throw notFound(`token ${request.params.id} not found`);
      const revoked = row.revokedAt ?? (await db.apiToken.update({ where: { id: row.id }, data: { revokedAt: new Date() } })).revokedAt!;
      return { id: row.id, revokedAt: revoked.toISOString() };
    },
  );
};

export default tokenRoutes;

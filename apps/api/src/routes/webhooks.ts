/**
 * A team's webhooks: register a URL (its secret shown once), list, delete, and list deliveries
 * with their outcomes. Team tokens only see their own team's; another team's id is a 404. The URL
 * is checked against the address policy now (after resolving its host) and again at every
 * delivery (libs/webhooks), so it never reaches a private, loopback or metadata address unless an
 * admin allows that network (CIM_WEBHOOK_ALLOWED_NETWORKS).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Webhook, WebhookDelivery } from '@cim-forge/db';
import { checkWebhookUrl, newWebhookSecret, WEBHOOK_EVENTS, WebhookUrlError } from '@cim-forge/webhooks';
import { badRequest, conflict, forbidden, notFound } from '../http-error.ts';
import type { Principal } from '../principal.ts';
import { IsoTime, Nullable, StringEnum, Uuid, bearer, errors } from '../schemas/common.ts';

/** webhooks one team may hold */
export const MAX_WEBHOOKS_PER_TEAM = 20;

const EventName = StringEnum(WEBHOOK_EVENTS);

const WebhookBody = Type.Object({
  id: Uuid,
  url: Type.String(),
  events: Type.Array(EventName),
  description: Nullable(Type.String()),
  createdAt: IsoTime,
});

const CreatedWebhook = Type.Object({
  ...WebhookBody.properties,
  secret: Type.String({ description: 'the signing secret (whsec_…): shown this once. Verify X-CIM-Signature with it.' }),
});

const Attempt = Type.Object({
  at: IsoTime,
  statusCode: Nullable(Type.Integer()),
  error: Nullable(Type.String()),
  ms: Type.Integer(),
});

const Delivery = Type.Object({
  id: Uuid,
  event: EventName,
  runId: Nullable(Uuid),
  status: StringEnum(['pending', 'succeeded', 'failed'] as const),
  attempts: Type.Integer({ description: 'attempts made so far' }),
  statusCode: Nullable(Type.Integer({ description: "the last attempt's HTTP status" })),
  error: Nullable(Type.String({ description: "the last attempt's error" })),
  attemptLog: Type.Array(Attempt),
  createdAt: IsoTime,
  lastAttemptAt: Nullable(IsoTime),
  finishedAt: Nullable(IsoTime),
  payload: Type.String({ description: 'the exact body sent (JSON)' }),
});

const IdParams = Type.Object({ id: Uuid });

function teamOf(p: Principal): string {
  if (p.teamId === null) throw forbidden('webhooks belong to a team: use a team token (this admin token has no team)');
  return p.teamId;
}

const toWebhook = (w: Webhook) => ({
  id: w.id,
  url: w.url,
  events: w.events as (typeof WEBHOOK_EVENTS)[number][],
  description: w.description,
  createdAt: w.createdAt.toISOString(),
});

const toDelivery = (d: WebhookDelivery) => ({
  id: d.id,
  event: d.event as (typeof WEBHOOK_EVENTS)[number],
  runId: d.runId,
  status: d.status as 'pending' | 'succeeded' | 'failed',
  attempts: d.attempts,
  statusCode: d.statusCode,
  error: d.error,
  attemptLog: d.attemptLog as { at: string; statusCode: number | null; error: string | null; ms: number }[],
  createdAt: d.createdAt.toISOString(),
  lastAttemptAt: d.lastAttemptAt?.toISOString() ?? null,
  finishedAt: d.finishedAt?.toISOString() ?? null,
  payload: d.payload,
});

const webhookRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/webhooks',
    {
      schema: {
        summary: 'Register a webhook for run state changes',
        description:
          "Every state change of the team's runs among `events` (default: all five) is POSTed as JSON, signed: " +
          '`X-CIM-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. Failed deliveries are retried with ' +
          'exponential backoff. The URL must be http(s) and must not resolve to a private, loopback, link-local or ' +
          'metadata address unless an admin allows that network.',
        tags: ['webhooks'],
        security: bearer,
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048 }),
            events: Type.Optional(Type.Array(EventName, { minItems: 1, maxItems: WEBHOOK_EVENTS.length, uniqueItems: true })),
            description: Type.Optional(Type.String({ maxLength: 500 })),
          },
          { additionalProperties: false },
        ),
        response: { 201: CreatedWebhook, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const { db, webhookPolicy, webhookResolver } = app.services;
      const teamId = teamOf(request.principal!);
      let url: URL;
      try {
        url = await checkWebhookUrl(request.body.url, webhookPolicy, webhookResolver);
      } catch (e) {
        if (e instanceof WebhookUrlError) throw badRequest(`body/url: ${e.message}`);
        throw e;
      }
      if ((await db.webhook.count({ where: { teamId } })) >= MAX_WEBHOOKS_PER_TEAM) {
        throw conflict(`team already has ${MAX_WEBHOOKS_PER_TEAM} webhooks (the limit); delete one first`);
      }
      const secret = newWebhookSecret();
      const row = await db.webhook.create({
        data: {
          teamId,
          url: url.href,
          secret,
          events: request.body.events ?? [...WEBHOOK_EVENTS],
          description: request.body.description ?? null,
        },
      });
      return reply.status(201).send({ ...toWebhook(row), secret });
    },
  );

  app.get(
    '/webhooks',
    {
      schema: {
        summary: "The team's webhooks (without their secrets)",
        tags: ['webhooks'],
        security: bearer,
        response: { 200: Type.Object({ items: Type.Array(WebhookBody) }), ...errors(401, 403) },
      },
    },
    async (request) => {
      const rows = await app.services.db.webhook.findMany({ where: { teamId: teamOf(request.principal!) }, orderBy: { createdAt: 'asc' } });
      return { items: rows.map(toWebhook) };
    },
  );

  app.delete(
    '/webhooks/:id',
    {
      schema: {
        summary: 'Delete a webhook and its delivery history',
        tags: ['webhooks'],
        security: bearer,
        params: IdParams,
        response: { 204: Type.Null(), ...errors(400, 401, 403, 404) },
      },
    },
    async (request, reply) => {
      const r = await app.services.db.webhook.deleteMany({ where: { id: request.params.id, teamId: teamOf(request.principal!) } });
      if (r.count === 0) throw notFound(`webhook ${request.params.id} not found`);
      return reply.status(204).send(null);
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    {
      schema: {
        summary: "A webhook's deliveries, newest first, with every attempt's outcome",
        tags: ['webhooks'],
        security: bearer,
        params: IdParams,
        querystring: Type.Object(
          { limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Delivery) }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { db } = app.services;
      const hook = await db.webhook.findFirst({
        where: { id: request.params.id, teamId: teamOf(request.principal!) },
        select: { id: true },
      });
      if (!hook) throw notFound(`webhook ${request.params.id} not found`);
      const rows = await db.webhookDelivery.findMany({
        where: { webhookId: hook.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: request.query.limit ?? 50,
      });
      return { items: rows.map(toDelivery) };
    },
  );
};

export default webhookRoutes;

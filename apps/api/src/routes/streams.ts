/**
 * Live feeds as Server-Sent Events: GET /v1/runs/:id/stream (one run's status, events and metric
 * points) and GET /v1/stream (status changes of every run the caller sees). Auth is the usual
 * Authorization header (read them with fetch and a stream reader; EventSource cannot send
 * headers, and a token never goes in a URL). Resumable: send back the last `id:` received as
 * `Last-Event-ID`. Both poll PostgreSQL every `streamPollMs` (streams/run-stream.ts says why).
 *
 * Limits: every poll re-reads the caller's token and ends the stream (`event: end` {reason:
 * "token", message}) once it is revoked, deleted or expired; a stream lives at most `maxSeconds`
 * (`event: end` {reason: "lifetime"}: reconnect with Last-Event-ID); a token may hold `perToken`
 * open streams and a team `perTeam` (counted per API replica); one more is a 429 that says so.
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RunIdParams, bearer, errors } from '../schemas/common.ts';
import { TooManyRequests } from '../http-error.ts';
import type { Principal } from '../principal.ts';
import { assertVisibleRun, visibleRunsWhere } from '../runs/visible-run.ts';
import { SseConnection, type SseSink } from '../streams/sse-connection.ts';
import { RunStream, currentRunCursor, parseRunCursor } from '../streams/run-stream.ts';
import { TeamStream, currentTeamCursor, parseTeamCursor } from '../streams/team-stream.ts';
import { SweepStream, parseSweepCursor } from '../streams/sweep-stream.ts';
import { findVisibleSweep } from '../sweeps/sweep-resource.ts';

export interface StreamOptions {
  /** how often a stream reads PostgreSQL, ms */
  pollMs: number;
  /** comment line interval that keeps idle connections open, ms */
  heartbeatMs: number;
  /** the longest a stream stays open, s (CIM_STREAM_MAX_SECONDS) */
  maxSeconds: number;
  /** open streams per token (CIM_STREAMS_PER_TOKEN) */
  perToken: number;
  /** open streams per team, all its tokens together (CIM_STREAMS_PER_TEAM) */
  perTeam: number;
  /** rows per read when a resume pages through a run's history (tests make them small) */
  pages?: { events: number; metrics: number };
}

export const DEFAULT_STREAM_LIMITS = { maxSeconds: 3600, perToken: 5, perTeam: 20 };

/** Retry-After for a refused stream, s */
const STREAM_RETRY_AFTER_S = 10;

const EventStream = Type.String({ description: 'text/event-stream' });
const LastEventId = Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 128 })) });

const streamRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (app, opts) => {
  const { db } = app.services;
  const open = new Set<SseConnection>();
  const byToken = new Map<string, number>();
  const byTeam = new Map<string, number>();
  // an open stream would hold app.close() (and a rolling deploy) forever
  app.addHook('preClose', async () => {
    for (const c of [...open]) c.end('shutdown', 'the API is shutting down: reconnect with Last-Event-ID');
  });

  const tokenKey = (p: Principal) => p.tokenId ?? p.tokenPrefix;
  const bump = (m: Map<string, number>, key: string, by: number) => {
    const n = (m.get(key) ?? 0) + by;
    if (n > 0) m.set(key, n);
    else m.delete(key);
  };

  /** counts the caller's open streams, or refuses one over its token's or its team's cap; returns the release */
  function admit(p: Principal): () => void {
    const tk = tokenKey(p);
    const t = byToken.get(tk) ?? 0;
    if (t >= opts.perToken) {
      throw new TooManyRequests(
        `token ${p.tokenPrefix}… already has ${t} open streams, the most one token may hold: close one (or use GET /v1/stream, which covers every run)`,
        STREAM_RETRY_AFTER_S,
      );
    }
    const team = p.teamId;
    if (team !== null && (byTeam.get(team) ?? 0) >= opts.perTeam) {
      throw new TooManyRequests(
        `this team already has ${byTeam.get(team)} open streams, the most one team may hold: close one first`,
        STREAM_RETRY_AFTER_S,
      );
    }
    bump(byToken, tk, 1);
    if (team !== null) bump(byTeam, team, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      bump(byToken, tk, -1);
      if (team !== null) bump(byTeam, team, -1);
    };
  }

  /** why the caller's token no longer opens this API (re-read every poll), or undefined while it does */
  async function tokenProblem(p: Principal): Promise<string | undefined> {
    // CIM_ADMIN_TOKEN is no row: it changes only with a restart, which closes every stream
    if (p.tokenId === null) return undefined;
    const row = await db.apiToken.findUnique({ where: { id: p.tokenId }, select: { revokedAt: true, expiresAt: true } });
    if (!row) return `token ${p.tokenPrefix}… was deleted`;
    if (row.revokedAt !== null) return `token ${p.tokenPrefix}… was revoked at ${row.revokedAt.toISOString()}`;
    if (row.expiresAt !== null && row.expiresAt.getTime() <= Date.now())
      return `token ${p.tokenPrefix}… expired at ${row.expiresAt.toISOString()}`;
    return undefined;
  }

  /**
   * Admits the caller's stream (429 over the caps), opens the SSE connection and polls `stream` until
   * the client leaves, `stream.done` says stop, the token stops being valid or the lifetime ends.
   */
  function pump(request: FastifyRequest, reply: FastifyReply, stream: { poll(sink: SseSink): Promise<void>; readonly done?: boolean }) {
    const release = admit(request.principal!);
    const conn = new SseConnection(request, reply, opts.heartbeatMs);
    open.add(conn);
    let timer: NodeJS.Timeout | undefined;
    const lifetime = setTimeout(
      () => conn.end('lifetime', `this stream reached its longest life of ${opts.maxSeconds} s: reconnect with Last-Event-ID`),
      opts.maxSeconds * 1000,
    );
    conn.onClose(() => {
      open.delete(conn);
      clearTimeout(timer);
      clearTimeout(lifetime);
      release();
    });
    const tick = async () => {
      try {
        const why = await tokenProblem(request.principal!);
        if (why !== undefined) return conn.end('token', `${why}: this stream is closed`);
        if (conn.isClosed) return;
        await stream.poll(conn);
        if (stream.done === true) return conn.close();
      } catch (err) {
        // a database hiccup: the client reconnects with its Last-Event-ID
        request.log.warn({ err }, 'stream read failed');
        return conn.close();
      }
      if (!conn.isClosed) timer = setTimeout(() => void tick(), opts.pollMs);
    };
    void tick();
  }

  app.get(
    '/runs/:id/stream',
    {
      schema: {
        summary: "A run's live feed (Server-Sent Events)",
        description:
          'text/event-stream of `status` (the run row changed), `run-event` (an event row) and `metric` ({points}) messages. ' +
          'Every message has `id: <status ms>.<event id>.<metric id>`; reconnect with it as Last-Event-ID to resume. ' +
          'Without Last-Event-ID: the current status, then only what is written from now on. Ends after the run finishes. ' +
          'Delivery is at least once after a resume: dedupe events by id and points by name/rank/step. ' +
          'The server ends a stream with `event: end` {reason, message}: reason `token` (revoked or expired: do not reconnect), ' +
          '`lifetime` (the longest a stream lives: reconnect with Last-Event-ID) or `shutdown`. 429: the token or team holds too many open streams.',
        tags: ['streams'],
        security: bearer,
        params: RunIdParams,
        headers: LastEventId,
        response: { 200: EventStream, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      await assertVisibleRun(db, request.principal!, request.params.id);
      const last = request.headers['last-event-id'];
      const start = last !== undefined ? parseRunCursor(last) : await currentRunCursor(db);
      const stream = new RunStream(db, request.params.id, start, opts.pages);
      if (last === undefined) await stream.skipExisting();
      pump(request, reply, stream);
    },
  );

  app.get(
    '/sweeps/:id/stream',
    {
      schema: {
        summary: "A sweep's live state (Server-Sent Events)",
        description:
          'text/event-stream of `sweep` messages, each the whole sweep (GET /v1/sweeps/:id) when it or any trial changed; `id:` is the ' +
          "change's time in ms (reconnect with it as Last-Event-ID). Ends after a finished sweep is sent, and with `event: end` " +
          "{reason, message} as the run stream does (token revoked or expired, longest lifetime, shutdown). Another team's sweep is a 404.",
        tags: ['streams'],
        security: bearer,
        params: RunIdParams,
        headers: LastEventId,
        response: { 200: EventStream, ...errors(400, 401, 404, 429) },
      },
    },
    async (request, reply) => {
      await findVisibleSweep(db, request.principal!, request.params.id);
      const last = request.headers['last-event-id'];
      const stream = new SweepStream(db, request.params.id, last !== undefined ? parseSweepCursor(last) : 0);
      pump(request, reply, stream);
    },
  );

  app.get(
    '/stream',
    {
      schema: {
        summary: 'Status changes of every run the caller sees (Server-Sent Events)',
        description:
          'text/event-stream of `status` messages {id, kind, name, status, error, updatedAt, startedAt, finishedAt}, one per change of a ' +
          "run row of the caller's team (every team's for an admin). `id:` is the change's time in ms; reconnect with it as Last-Event-ID. " +
          'Ends with `event: end` {reason, message} as the run stream does (token revoked or expired, longest lifetime, shutdown).',
        tags: ['streams'],
        security: bearer,
        headers: LastEventId,
        response: { 200: EventStream, ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const last = request.headers['last-event-id'];
      const start = last !== undefined ? parseTeamCursor(last) : await currentTeamCursor(db);
      const stream = new TeamStream(db, visibleRunsWhere(request.principal!), start);
      pump(request, reply, stream);
    },
  );
};

export default streamRoutes;

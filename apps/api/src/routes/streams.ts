/**
 * Live feeds as Server-Sent Events: GET /v1/runs/:id/stream (one run's status, events and metric
 * points) and GET /v1/stream (status changes of every run the caller sees). Auth is the usual
 * Authorization header (read them with fetch and a stream reader; EventSource cannot send
 * headers, and a token never goes in a URL). Resumable: send back the last `id:` received as
 * `Last-Event-ID`. Both poll PostgreSQL every `streamPollMs` (streams/run-stream.ts says why).
 */
import { Type, type FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { RunIdParams, bearer, errors } from '../schemas/common.ts';
import { assertVisibleRun, visibleRunsWhere } from '../runs/visible-run.ts';
import { SseConnection, type SseMessage } from '../streams/sse-connection.ts';
import { RunStream, currentRunCursor, parseRunCursor } from '../streams/run-stream.ts';
import { TeamStream, currentTeamCursor, parseTeamCursor } from '../streams/team-stream.ts';

export interface StreamOptions {
  /** how often a stream reads PostgreSQL, ms */
  pollMs: number;
  /** comment line interval that keeps idle connections open, ms */
  heartbeatMs: number;
}

const EventStream = Type.String({ description: 'text/event-stream' });
const LastEventId = Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 128 })) });

const streamRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (app, opts) => {
  const open = new Set<SseConnection>();
  // an open stream would hold app.close() (and a rolling deploy) forever
  app.addHook('preClose', async () => {
    for (const c of [...open]) c.close();
  });

  /** sends what every poll returns until the client leaves or `done()` says stop */
  function pump(conn: SseConnection, poll: () => Promise<SseMessage[]>, done: () => boolean, onError: (err: unknown) => void) {
    open.add(conn);
    let timer: NodeJS.Timeout | undefined;
    conn.onClose(() => {
      open.delete(conn);
      clearTimeout(timer);
    });
    const tick = async () => {
      try {
        for (const m of await poll()) conn.send(m);
        if (done()) return conn.close();
      } catch (err) {
        // a database hiccup: the client reconnects with its Last-Event-ID
        onError(err);
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
          'Delivery is at least once after a resume: dedupe events by id and points by name/rank/step.',
        tags: ['streams'],
        security: bearer,
        params: RunIdParams,
        headers: LastEventId,
        response: { 200: EventStream, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => {
      const { db } = app.services;
      await assertVisibleRun(db, request.principal!, request.params.id);
      const last = request.headers['last-event-id'];
      const start = last !== undefined ? parseRunCursor(last) : await currentRunCursor(db);
      const stream = new RunStream(db, request.params.id, start);
      if (last === undefined) await stream.skipExisting();
      const conn = new SseConnection(request, reply, opts.heartbeatMs);
      pump(
        conn,
        () => stream.poll(),
        () => stream.done,
        (err) => request.log.warn({ err }, 'run stream read failed'),
      );
    },
  );

  app.get(
    '/stream',
    {
      schema: {
        summary: 'Status changes of every run the caller sees (Server-Sent Events)',
        description:
          'text/event-stream of `status` messages {id, kind, name, status, error, updatedAt, startedAt, finishedAt}, one per change of a ' +
          "run row of the caller's team (every team's for an admin). `id:` is the change's time in ms; reconnect with it as Last-Event-ID.",
        tags: ['streams'],
        security: bearer,
        headers: LastEventId,
        response: { 200: EventStream, ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const { db } = app.services;
      const last = request.headers['last-event-id'];
      const start = last !== undefined ? parseTeamCursor(last) : await currentTeamCursor(db);
      const stream = new TeamStream(db, visibleRunsWhere(request.principal!), start);
      const conn = new SseConnection(request, reply, opts.heartbeatMs);
      pump(
        conn,
        () => stream.poll(),
        () => false,
        (err) => request.log.warn({ err }, 'team stream read failed'),
      );
    },
  );
};

export default streamRoutes;

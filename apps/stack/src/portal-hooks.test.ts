/**
 * The hooks for a team's own portal on the real stack (API, controller and one worker as child
 * processes, Postgres, Redis, s3rver), driven through the typed client (libs/client):
 * a webhook on a local receiver (allowed by the admin's CIM_WEBHOOK_ALLOWED_NETWORKS) gets the
 * run's state changes signed; a smoke-preset pre-training (shortened to 256 images) leaves a ready
 * held-out correlation-map figure per checkpoint whose PNG decodes to the figure's size; an
 * uploaded image is drawn too.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PNG } from 'pngjs';
import sharp from 'sharp';
import { createCimClient, expectOk, type CimClient } from '@cim-forge/client';
import { resolvePretrainConfig, samplerConfigOf } from '@cim-forge/config';
import { type TempDatabase } from '@cim-forge/db/testing';
import { correlationFigureLayout } from '@cim-forge/viz';
import { signatureProblem } from '@cim-forge/webhooks';
import { type Stack } from './stack.ts';
import { closeTestStack, startTestStack } from './test-stack.ts';

let db: TempDatabase;
let dir: string;
let stack: Stack;
let receiver: Server;
let receiverUrl: string;
const adminToken = `admin-${randomBytes(18).toString('base64url')}`;
const log: string[] = [];
const received: { event: string; body: string; header: string }[] = [];

before(async () => {
  receiver = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      received.push({ event: String(req.headers['x-cim-event']), body, header: String(req.headers['x-cim-signature']) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  ({ db, dir, stack } = await startTestStack({
    name: 'hooks',
    workers: 1,
    adminToken,
    log,
    env: () => ({ CIM_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1/32', CIM_WEBHOOK_BACKOFF_MS: '200' }),
  }));
});

after(async () => {
  await closeTestStack({ db, dir, stack });
  await new Promise((r) => receiver?.close(r));
});

async function until<T>(what: string, f: () => Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${log.slice(-30).join('\n')}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

async function teamClient(): Promise<{ cim: CimClient; token: string }> {
  const admin = createCimClient({ baseUrl: stack.apiUrl, token: adminToken });
  const team = await expectOk(admin.POST('/v1/teams', { body: { name: `hooks-${randomBytes(3).toString('hex')}` } }));
  const { token } = await expectOk(admin.POST('/v1/tokens', { body: { teamId: team.id } }));
  return { cim: createCimClient({ baseUrl: stack.apiUrl, token }), token };
}

async function fetchPng(url: string): Promise<PNG> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'image/png');
  return PNG.sync.read(Buffer.from(await res.arrayBuffer()));
}

test('webhook, held-out figures at checkpoints and an uploaded image, on the real stack', { timeout: 900_000 }, async () => {
  const { cim } = await teamClient();
  const hook = await expectOk(cim.POST('/v1/webhooks', { body: { url: receiverUrl } }));

  const created = await expectOk(
    cim.POST('/v1/runs', {
      body: {
        kind: 'pretrain',
        preset: 'smoke',
        config: { dataset: { kind: 'synthetic', size: 256, imageSize: 48, seed: 0 }, checkpointEvery: 4, evalImages: 16 },
      },
    }),
  );
  assert.ok('id' in created);
  const runId = created.id;
  const path = { params: { path: { id: runId } } };
  const run = await until(
    'the run to end',
    async () => {
      const r = await expectOk(cim.GET('/v1/runs/{id}', path));
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.status) ? r : undefined;
    },
    600_000,
  );
  assert.equal(run.status, 'SUCCEEDED', run.error ?? '');

  // the figure every figure of this run must be: the run's sampler, its exemplars as rows
  const s = samplerConfigOf(resolvePretrainConfig('smoke'));
  const layout = correlationFigureLayout(s.contextSize, s.contextSize, s.numExemplars);
  const { checkpoints } = await expectOk(cim.GET('/v1/runs/{id}/checkpoints', path));
  assert.deepEqual(
    checkpoints.map((c) => c.step),
    [4, 8],
  );

  // held-out: one per checkpoint, ready, at the checkpoint's step
  const heldout = await until(
    'held-out figures',
    async () => {
      const { items } = await expectOk(cim.GET('/v1/runs/{id}/figures', path));
      return items.length === checkpoints.length && items.every((f) => f.status !== 'pending') ? items : undefined;
    },
    300_000,
  );
  assert.deepEqual(
    heldout.map((f) => [f.source, f.status, f.error]),
    checkpoints.map(() => ['heldout', 'ready', undefined]),
  );
  assert.deepEqual(
    heldout.map((f) => [f.checkpointId, f.step]).sort((a, b) => Number(a[1]) - Number(b[1])),
    checkpoints.map((c) => [c.id, c.step]),
  );
  for (const f of heldout) {
    const png = await fetchPng(f.url!);
    assert.deepEqual([png.width, png.height, f.width, f.height], [layout.width, layout.height, layout.width, layout.height]);
    // the context panel of the first row is an image, not a blank: its pixels vary
    const [x0, y0] = layout.panels(0).context;
    const lum = new Set<number>();
    for (let y = y0; y < y0 + layout.panelHeight; y += 7)
      for (let x = x0; x < x0 + layout.panelWidth; x += 7) lum.add(png.data[(y * png.width + x) * 4]);
    assert.ok(lum.size > 10, `${lum.size} distinct values in the context panel`);
  }

  // an uploaded image (a 64×40 PNG gradient), drawn with the latest checkpoint
  const raw = Buffer.alloc(64 * 40 * 3);
  for (let i = 0; i < 64 * 40; i++) raw.set([(i % 64) * 4, Math.floor(i / 64) * 6, 128], i * 3);
  const upload = await sharp(raw, { raw: { width: 64, height: 40, channels: 3 } })
    .png()
    .toBuffer();
  const posted = await expectOk(
    cim.POST('/v1/runs/{id}/figures', { ...path, body: { checkpoint: 'latest', image: upload.toString('base64') } }),
  );
  assert.equal(posted.status, 'pending');
  const drawn = await until(
    'the uploaded figure',
    async () => {
      const { items } = await expectOk(cim.GET('/v1/runs/{id}/figures', path));
      const f = items.find((x) => x.id === posted.id);
      return f && f.status !== 'pending' ? f : undefined;
    },
    300_000,
  );
  assert.deepEqual([drawn.source, drawn.status, drawn.step, drawn.checkpointId], ['upload', 'ready', 8, checkpoints[1].id]);
  const png = await fetchPng(drawn.url!);
  assert.deepEqual([png.width, png.height], [layout.width, layout.height]);

  // refusals: a bad image (400 with the reason), another team's run (404)
  const bad = await cim.POST('/v1/runs/{id}/figures', {
    ...path,
    body: { checkpoint: 'latest', image: Buffer.from('GIF89a not really').toString('base64') },
  });
  assert.equal(bad.response.status, 400);
  assert.match(String((bad.error as { message: string }).message), /^body\/image: image must be a PNG or a JPEG/);
  const other = await teamClient();
  const foreign = await other.cim.POST('/v1/runs/{id}/figures', {
    ...path,
    body: { checkpoint: 'latest', image: upload.toString('base64') },
  });
  assert.equal(foreign.response.status, 404);
  assert.equal((await other.cim.GET('/v1/runs/{id}/figures', path)).response.status, 404);

  // the webhook saw queued, running and succeeded from the real API, workers and controller
  const deliveries = await until(
    'webhook deliveries',
    async () => {
      const { items } = await expectOk(cim.GET('/v1/webhooks/{id}/deliveries', { params: { path: { id: hook.id } } }));
      return items.length >= 3 && items.every((d) => d.status !== 'pending') ? items : undefined;
    },
    60_000,
  );
  assert.deepEqual(deliveries.map((d) => d.event).sort(), ['run.queued', 'run.running', 'run.succeeded']);
  assert.deepEqual(
    deliveries.map((d) => [d.status, d.statusCode, d.attempts]),
    deliveries.map(() => ['succeeded', 204, 1]),
  );
  assert.deepEqual(received.map((r) => r.event).sort(), ['run.queued', 'run.running', 'run.succeeded']);
  assert.deepEqual(
    received.map((r) => signatureProblem({ secret: hook.secret, body: r.body, header: r.header })),
    [undefined, undefined, undefined],
  );
  assert.deepEqual(
    received.map((r) => JSON.parse(r.body).data.run.id),
    [runId, runId, runId],
  );
});

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { presets } from '@cim-forge/config';
import { bearer, startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let a: { teamId: string; auth: { authorization: string } };
let b: { teamId: string; auth: { authorization: string } };
/** team A's run with only a PENDING checkpoint, and one with none at all */
let pendingRunId: string;
before(async () => {
  env = await startApiTestEnv();
  a = await env.team('team-a');
  b = await env.team('team-b');
  const run = await env.db.run.create({
    data: { teamId: a.teamId, kind: 'pretrain', status: 'RUNNING', config: {}, worldSize: 1 },
  });
  await env.db.checkpoint.create({
    data: { runId: run.id, uri: `s3://${env.s3.bucket}/runs/${run.id}/checkpoints/step-00000016`, step: 16, status: 'PENDING' },
  });
  pendingRunId = run.id;
});
after(async () => {
  await env?.close();
});

const MISSING_RUN = '00000000-0000-4000-8000-000000000001';

interface Case {
  name: string;
  /** default: team A's token */
  headers?: { team?: 'b'; authorization?: string };
  /** functions: values known only after `before` */
  payload: string | object | (() => object);
  status: number;
  message: string | RegExp | (() => string);
}

const cases = () =>
  (
    [
      { name: 'malformed JSON', payload: '{"kind": "pretrain",', status: 400, message: /^body is not valid JSON/ },
      {
        name: 'unknown top-level field',
        payload: { kind: 'pretrain', preset: 'smoke', gpus: 2 },
        status: 400,
        message: 'body/gpus is not allowed (unknown field)',
      },
      {
        name: 'unknown source field',
        payload: { kind: 'finetune', source: { runId: MISSING_RUN, checkpoint: 'latest', extra: 1 } },
        status: 400,
        message: 'body/source/extra is not allowed (unknown field)',
      },
      {
        name: 'unknown kind',
        payload: { kind: 'train' },
        status: 400,
        message: 'body/kind must be equal to one of the allowed values: "pretrain", "finetune", "eval"',
      },
      { name: 'missing kind', payload: { preset: 'smoke' }, status: 400, message: 'body must have required properties kind' },
      {
        name: 'unknown config field',
        payload: { kind: 'pretrain', preset: 'smoke', config: { learningRate: 1 } },
        status: 400,
        message: 'body/config/learningRate is not allowed (unknown field)',
      },
      {
        name: 'unknown nested config field',
        payload: { kind: 'pretrain', config: { modelOverrides: { layers: 3 } } },
        status: 400,
        message: 'body/config/modelOverrides/layers is not allowed (unknown field)',
      },
      {
        name: 'worldSize as a string',
        payload: { kind: 'pretrain', preset: 'smoke', worldSize: '2' },
        status: 400,
        message: 'body/worldSize must be integer',
      },
      {
        name: 'config number as a string',
        payload: { kind: 'pretrain', preset: 'smoke', config: { epochs: '2' } },
        status: 400,
        message: 'body/config/epochs must be number',
      },
      {
        name: 'negative batch size',
        payload: { kind: 'pretrain', preset: 'smoke', config: { batchSize: -1 } },
        status: 400,
        message: 'body/config/batchSize must be >= 1',
      },
      {
        name: 'absurd batch size',
        payload: { kind: 'pretrain', preset: 'smoke', config: { batchSize: 10_000_000 } },
        status: 400,
        message: 'body/config/batchSize must be <= 4096',
      },
      {
        name: 'absurd epochs',
        payload: { kind: 'pretrain', config: { epochs: 1e9 } },
        status: 400,
        message: 'body/config/epochs must be <= 10000',
      },
      {
        name: 'absurd model depth',
        payload: { kind: 'pretrain', config: { modelOverrides: { depth: 100000 } } },
        status: 400,
        message: 'body/config/modelOverrides/depth must be <= 48',
      },
      {
        name: 'worldSize 1000',
        payload: { kind: 'pretrain', preset: 'smoke', worldSize: 1000 },
        status: 400,
        message: 'body/worldSize must be <= 64',
      },
      {
        name: 'priority out of range',
        payload: { kind: 'pretrain', preset: 'smoke', priority: 101 },
        status: 400,
        message: 'body/priority must be <= 100',
      },
      {
        name: 'initFrom in a config',
        payload: { kind: 'pretrain', config: { initFrom: 's3://x/y' } },
        status: 400,
        message: 'body/config/initFrom must be null',
      },
      {
        name: 'unknown preset',
        payload: { kind: 'pretrain', preset: 'huge' },
        status: 400,
        message: `unknown pretrain preset "huge"; choose one of: ${Object.keys(presets).join(', ')}`,
      },
      {
        name: 'unknown finetune preset',
        payload: { kind: 'finetune', preset: 'huge', source: { runId: MISSING_RUN, checkpoint: 'latest' } },
        status: 400,
        message: 'unknown finetune preset "huge"; choose one of: smoke',
      },
      {
        name: 'a config the lib refuses',
        payload: { kind: 'pretrain', preset: 'smoke', config: { model: 'cimVitHuge' } },
        status: 400,
        message: /^body\/config\/model must be equal to one of the allowed values: "cimVitTinyPatch16", /,
      },
      {
        name: 'bad dataset kind',
        payload: { kind: 'pretrain', config: { dataset: { kind: 'imagenet' } } },
        status: 400,
        message: 'body/config/dataset/kind must be equal to one of the allowed values: "fashion-mnist", "image-folder", "synthetic"',
      },
      {
        name: 'a pair with 9000 items',
        payload: { kind: 'pretrain', config: { sampler: { rotation: Array.from({ length: 9000 }, () => 12) } } },
        status: 400,
        message: /^body\/config\/sampler\/rotation/,
      },
      // issue 13: limits matched by field name only, no minimums; these passed (or crashed) on main
      {
        name: 'mlpRatio 1e9',
        payload: { kind: 'pretrain', preset: 'smoke', config: { modelOverrides: { mlpRatio: 1e9 } } },
        status: 400,
        message: 'body/config/modelOverrides/mlpRatio must be <= 16',
      },
      {
        name: 'patchSize 0',
        payload: { kind: 'pretrain', preset: 'smoke', config: { modelOverrides: { patchSize: 0 } } },
        status: 400,
        message: 'body/config/modelOverrides/patchSize must be >= 1',
      },
      {
        name: 'ResNet layers 1000',
        payload: { kind: 'pretrain', preset: 'cpu-resnet', config: { modelOverrides: { backbone: { layers: [1000, 1, 1, 1] } } } },
        status: 400,
        message: 'body/config/modelOverrides/backbone/layers/0 must be <= 64',
      },
      {
        name: 'ResNet widths 1e6',
        payload: { kind: 'pretrain', preset: 'cpu-resnet', config: { modelOverrides: { backbone: { widths: [16, 32, 64, 1e6] } } } },
        status: 400,
        message: 'body/config/modelOverrides/backbone/widths/3 must be <= 2048',
      },
      {
        name: 'ResNet stemWidth 1e6',
        payload: { kind: 'pretrain', preset: 'cpu-resnet', config: { modelOverrides: { backbone: { stemWidth: 1e6 } } } },
        status: 400,
        message: 'body/config/modelOverrides/backbone/stemWidth must be <= 1024',
      },
      {
        name: 'randAugment.n 1e6',
        payload: () => ({
          kind: 'finetune',
          preset: 'smoke',
          config: { randAugment: { n: 1e6, m: 9, mstd: 0.5 } },
          source: { runId: pendingRunId, checkpoint: 'latest' },
        }),
        status: 400,
        message: 'body/config/randAugment/n must be <= 16',
      },
      {
        name: 'eval images 1e9',
        payload: () => ({ kind: 'eval', config: { images: 1e9 }, source: { runId: pendingRunId, checkpoint: 'latest' } }),
        status: 400,
        message: 'body/config/images must be <= 100000',
      },
      {
        name: 'eval pgdSteps 1e6',
        payload: () => ({ kind: 'eval', config: { pgdSteps: 1e6 }, source: { runId: pendingRunId, checkpoint: 'latest' } }),
        status: 400,
        message: 'body/config/pgdSteps must be <= 100',
      },
      {
        name: 'a negative learning rate',
        payload: { kind: 'pretrain', config: { baseLr: -1 } },
        status: 400,
        message: 'body/config/baseLr must be >= 0',
      },
      {
        name: 'a pretrain field on an eval run',
        payload: () => ({ kind: 'eval', config: { accumIter: 2 }, source: { runId: pendingRunId, checkpoint: 'latest' } }),
        status: 400,
        message: 'body/config/accumIter is not allowed (unknown field)',
      },
      // own-property lookups: inherited names are neither models nor override keys
      {
        name: "model 'constructor'",
        payload: { kind: 'pretrain', config: { model: 'constructor' } },
        status: 400,
        message: /^body\/config\/model must be equal to one of the allowed values/,
      },
      {
        name: "override key 'toString'",
        payload: { kind: 'pretrain', config: { modelOverrides: { toString: 3 } } },
        status: 400,
        message: 'body/config/modelOverrides/toString is not allowed (unknown field)',
      },
      {
        name: "preset 'constructor'",
        payload: { kind: 'pretrain', preset: 'constructor' },
        status: 400,
        message: /^unknown pretrain preset "constructor"/,
      },
      // NUL characters and nesting: Postgres and the stack refused these with a 500 on main
      {
        name: 'NUL in a name',
        payload: { kind: 'pretrain', preset: 'smoke', name: 'a\u0000b' },
        status: 400,
        message: 'body/name contains a NUL character',
      },
      {
        name: 'NUL in a config string',
        payload: { kind: 'pretrain', config: { dataset: { kind: 'image-folder', root: 'imgs\u0000' } } },
        status: 400,
        message: 'body/config/dataset/root contains a NUL character',
      },
      {
        name: 'JSON nested 50,000 deep',
        payload: `{"kind":"pretrain","config":{"modelOverrides":${'['.repeat(50_000)}${']'.repeat(50_000)}}}`,
        status: 400,
        message: /^body\/config\/modelOverrides(\/0)+ is nested deeper than 32 levels$/,
      },
      {
        name: 'a ~10 MB body',
        payload: { kind: 'pretrain', name: 'x'.repeat(10_000_000) },
        status: 413,
        message: 'request body is larger than the 1048576-byte limit',
      },
      {
        name: 'pretrain with a source',
        payload: { kind: 'pretrain', preset: 'smoke', source: { uri: 's3://cim-test/w.safetensors' } },
        status: 400,
        message: 'body/source is not accepted for pretrain runs',
      },
      {
        name: 'finetune without a source',
        payload: { kind: 'finetune', preset: 'smoke' },
        status: 400,
        message: 'body/source is required for finetune runs',
      },
      {
        name: 'finetune with worldSize 2',
        payload: { kind: 'finetune', preset: 'smoke', worldSize: 2, source: { runId: MISSING_RUN, checkpoint: 'latest' } },
        status: 400,
        message: 'body/worldSize must be 1 for finetune runs, got 2',
      },
      {
        name: 'encoder on a pretrain',
        payload: { kind: 'pretrain', preset: 'smoke', encoder: 'target' },
        status: 400,
        message: 'body/encoder applies to finetune runs only',
      },
      {
        name: 'finetune naming a run that does not exist',
        payload: { kind: 'finetune', preset: 'smoke', source: { runId: MISSING_RUN, checkpoint: 'latest' } },
        status: 400,
        message: `source run ${MISSING_RUN} not found`,
      },
      {
        name: 'finetune naming a run with only a PENDING checkpoint',
        payload: () => ({ kind: 'finetune', preset: 'smoke', source: { runId: pendingRunId, checkpoint: 'latest' } }),
        status: 400,
        message: () => `source run ${pendingRunId} has no COMPLETE checkpoint`,
      },
      {
        name: "finetune naming another team's run",
        headers: { team: 'b' },
        payload: () => ({ kind: 'finetune', preset: 'smoke', source: { runId: pendingRunId, checkpoint: 'best' } }),
        status: 400,
        message: () => `source run ${pendingRunId} not found`,
      },
      {
        name: 'bad source checkpoint word',
        payload: () => ({ kind: 'eval', source: { runId: pendingRunId, checkpoint: 'newest' } }),
        status: 400,
        message: 'body/source/checkpoint must be "latest", "best" or a checkpoint id, got "newest"',
      },
      {
        name: 'source uri in another bucket',
        payload: { kind: 'eval', source: { uri: 's3://elsewhere/w.safetensors' } },
        status: 400,
        message: 'body/source/uri must be s3://cim-test/<key>, got "s3://elsewhere/w.safetensors"',
      },
      {
        name: 'source uri in the import area that does not exist',
        payload: () => ({ kind: 'eval', source: { uri: `s3://cim-test/imports/${a.teamId}/u1/none.safetensors` } }),
        status: 400,
        message: () => `source uri s3://cim-test/imports/${a.teamId}/u1/none.safetensors does not exist`,
      },
      {
        name: 'no token',
        headers: { authorization: '' },
        payload: { kind: 'pretrain', preset: 'smoke' },
        status: 401,
        message: /missing or malformed Authorization header/,
      },
      {
        name: 'a wrong token',
        headers: bearer('cimf_nope'),
        payload: { kind: 'pretrain', preset: 'smoke' },
        status: 401,
        message: 'invalid or revoked token',
      },
    ] as Case[]
  ).map((c) => ({
    ...c,
    payload: typeof c.payload === 'function' ? c.payload() : c.payload,
    message: typeof c.message === 'function' ? c.message() : c.message,
  }));

test('every bad submission → the right 4xx naming the problem, and nothing written or enqueued', async () => {
  const runsBefore = await env.db.run.count();
  const checkpointsBefore = await env.db.checkpoint.count();
  for (const c of cases()) {
    const headers =
      c.headers?.team === 'b' ? b.auth : c.headers?.authorization !== undefined ? { authorization: c.headers.authorization } : a.auth;
    const r = await env.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { ...headers, 'content-type': 'application/json' },
      payload: typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload),
    });
    assert.equal(r.statusCode, c.status, `${c.name}: ${r.body.slice(0, 300)}`);
    const body = r.json();
    assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'statusCode'], c.name);
    assert.equal(body.statusCode, c.status, c.name);
    if (typeof c.message === 'string') assert.equal(body.message, c.message, c.name);
    else assert.match(body.message, c.message, c.name);
  }
  assert.equal(await env.db.run.count(), runsBefore);
  assert.equal(await env.db.runEvent.count(), 0);
  assert.equal(await env.db.checkpoint.count(), checkpointsBefore);
  assert.equal((await env.queue.getJobs(['prioritized', 'waiting', 'active', 'delayed'])).length, 0);
});

test('unknown route → JSON 404; a bad run id → 400 naming params/id', async () => {
  const r = await env.app.inject({ method: 'GET', url: '/v1/nothing-here', headers: a.auth });
  assert.equal(r.statusCode, 404);
  assert.deepEqual(r.json(), { statusCode: 404, error: 'Not Found', message: 'no route GET /v1/nothing-here' });
  const bad = await env.app.inject({ method: 'GET', url: '/v1/runs/not-a-uuid', headers: a.auth });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().message, 'params/id must match format "uuid"');
  const badQuery = await env.app.inject({ method: 'GET', url: '/v1/runs?limit=500', headers: a.auth });
  assert.equal(badQuery.statusCode, 400);
  assert.equal(badQuery.json().message, 'querystring/limit must be <= 200');
  const badCursor = await env.app.inject({ method: 'GET', url: '/v1/runs?cursor=garbage', headers: a.auth });
  assert.equal(badCursor.statusCode, 400);
  assert.equal(badCursor.json().message, 'querystring/cursor is not a cursor this API returned');
});

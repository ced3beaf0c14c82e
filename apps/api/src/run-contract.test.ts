/**
 * The run contract end to end: the plan derived once and stored on the run, the resource estimate,
 * the refusal of what no worker can hold, and the OpenAPI document showing every config field.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildApp } from './app.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let teamId: string;
before(async () => {
  env = await startApiTestEnv();
  ({ auth, teamId } = await env.team());
});
after(async () => {
  await env?.close();
});

test('the plan (effective batch, peak lr, steps, warm-up) is stored on the run and returned by GET /v1/runs/:id', async () => {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: { kind: 'pretrain', preset: 'smoke', worldSize: 2 },
  });
  assert.equal(r.statusCode, 201, r.body);
  const got = await env.app.inject({ method: 'GET', url: `/v1/runs/${r.json().id}`, headers: auth });
  // smoke: 1024 synthetic images, batch 32, 1 epoch, warm-up 0.2 epochs, base lr 1.5e-3; two ranks
  assert.deepEqual(got.json().plan, {
    effectiveBatch: 64,
    peakLr: (1.5e-3 * 64) / 256,
    epochs: 1,
    warmupEpochs: 0.2,
    trainImages: 1024,
    stepsPerEpoch: 16,
    totalSteps: 16,
    warmupSteps: 3,
    derivedBy: 'api',
  });
  const res = got.json().resources;
  assert.ok(res.parameters > 250_000 && res.parameters < 260_000, String(res.parameters));
  assert.ok(res.peakBytesPerRank > res.peakTensorBytes && res.peakTensorBytes > 900 * 2 ** 20, JSON.stringify(res));
  assert.ok(res.flopsPerStep > 1e9);
  const row = await env.db.run.findUniqueOrThrow({ where: { id: r.json().id } });
  assert.deepEqual(row.plan, got.json().plan);
  // the API's /metrics is on its public port: the submission is counted by kind, with no team or run id
  const metrics = (await env.app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.match(metrics, /^cim_runs_submitted_total\{kind="pretrain"[^}]*\} 1$/m);
  assert.equal(metrics.includes(teamId), false);
  assert.equal(metrics.includes(r.json().id), false);
});

test('a dataset smaller than one step is refused at submission, naming the sizes', async () => {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: {
      kind: 'pretrain',
      preset: 'smoke',
      worldSize: 4,
      config: { dataset: { kind: 'synthetic', size: 100, imageSize: 48, seed: 0 } },
    },
  });
  assert.equal(r.statusCode, 400);
  assert.equal(r.json().message, 'config: dataset too small: 25 images per rank give 0 batches of 32, fewer than accumIter 1');
});

test('a run no worker can hold is refused with the estimate and the limit; one that fits passes', async () => {
  const huge = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: auth,
    payload: {
      kind: 'pretrain',
      preset: 'smoke',
      validateOnly: true,
      config: {
        batchSize: 4096,
        dataset: { kind: 'synthetic', size: 1_000_000, imageSize: 48, seed: 0 },
        modelOverrides: { depth: 48, embedDim: 4096, numHeads: 64 },
      },
    },
  });
  assert.equal(huge.statusCode, 400);
  assert.match(
    huge.json().message,
    new RegExp(
      String.raw`^the run needs an estimated [\d.]+ GiB per rank \([\d,]+ parameters, [\d.]+ GiB of activations at batchSize 4096\), ` +
        String.raw`more than a worker's 80\.0 GiB \(CIM_WORKER_MEMORY_MB\)`,
    ),
  );

  // a 1 GiB worker class: the smoke model at batch 8 fits (~0.74 GiB), at batch 32 (~1.46 GiB) it does not
  const small = await buildApp({
    db: env.db,
    redis: env.redis,
    runsQueue: env.queue,
    queuePrefix: env.prefix,
    s3: { client: env.s3.client, bucket: env.s3.bucket },
    workerMemoryBytes: 2 ** 30,
  });
  try {
    const fits = await small.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: auth,
      payload: { kind: 'pretrain', preset: 'smoke', validateOnly: true, config: { batchSize: 8 } },
    });
    assert.equal(fits.statusCode, 200, fits.body);
    assert.ok(fits.json().resources.peakBytesPerRank < 2 ** 30);
    const tooBig = await small.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: auth,
      payload: { kind: 'pretrain', preset: 'smoke', validateOnly: true },
    });
    assert.equal(tooBig.statusCode, 400);
    assert.match(
      tooBig.json().message,
      /^the run needs an estimated 1\.\d\d GiB per rank \(257,666 parameters, 0\.\d\d GiB of activations at batchSize 32\), more than a worker's 1\.00 GiB/,
    );
  } finally {
    await small.close();
  }
});

test('OpenAPI shows every config field of every run kind, with its bounds', async () => {
  const doc = (await env.app.inject({ method: 'GET', url: '/docs/json' })).json();
  const body = doc.paths['/v1/runs'].post.requestBody.content['application/json'].schema;
  const [pretrain, finetune, evalKind] = body.properties.config.anyOf;
  assert.deepEqual([pretrain.properties.batchSize.minimum, pretrain.properties.batchSize.maximum], [1, 4096]);
  assert.equal(pretrain.properties.modelOverrides.properties.mlpRatio.maximum, 16);
  assert.equal(pretrain.properties.modelOverrides.properties.backbone.properties.layers.items.maximum, 64);
  assert.equal(finetune.properties.randAugment.anyOf[0].properties.n.maximum, 16);
  assert.equal(evalKind.properties.pgdSteps.maximum, 100);
  assert.equal(pretrain.properties.epochs.default, 300);
});

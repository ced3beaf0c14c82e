/**
 * POST /v1/runs resolves a fine-tune's absent warm-up with the CLI's rule (libs/config
 * defaultWarmupEpochs: 5% of the run, at most 5), with and without a preset, on a team data area;
 * an explicit one is kept. Real Postgres, Redis and s3rver.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultWarmupEpochs } from '@cim-forge/config';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let a: Awaited<ReturnType<ApiTestEnv['team']>>;
let source: { runId: string; checkpoint: string };
before(async () => {
  env = await startApiTestEnv();
  a = await env.team('warmup');
  const run = await env.db.run.create({ data: { teamId: a.teamId, kind: 'pretrain', status: 'SUCCEEDED', config: {}, worldSize: 1 } });
  await env.db.checkpoint.create({
    data: { runId: run.id, uri: `s3://${env.s3.bucket}/runs/${run.id}/checkpoints/step-00000001`, step: 1, status: 'COMPLETE' },
  });
  source = { runId: run.id, checkpoint: 'latest' };
});
after(async () => {
  await env?.close();
});

async function validate(body: object): Promise<{ config: { warmupEpochs: number; epochs: number }; plan: { warmupEpochs: number } }> {
  const r = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: { kind: 'finetune', source, validateOnly: true, ...body },
  });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

test('a REST fine-tune without a warm-up warms up 5% of its epochs, as the CLI does; an explicit one is kept', async () => {
  const folder = { dataset: { kind: 'image-folder', root: 'digits' } };
  for (const epochs of [5, 20, 300]) {
    const v = await validate({ config: { ...folder, epochs } });
    assert.equal(v.config.warmupEpochs, defaultWarmupEpochs(epochs), `${epochs} epochs`);
    assert.equal(v.plan.warmupEpochs, v.config.warmupEpochs);
  }
  assert.equal((await validate({ config: { ...folder, epochs: 5 } })).config.warmupEpochs, 0.25);
  // the recipe's own length: its 5 epochs
  assert.equal((await validate({ config: folder })).config.warmupEpochs, 5);
  assert.equal((await validate({ config: { ...folder, epochs: 5, warmupEpochs: 0 } })).config.warmupEpochs, 0);
  assert.equal((await validate({ config: { ...folder, epochs: 5, warmupEpochs: 1 } })).config.warmupEpochs, 1);
  // a preset's own warm-up is an explicit one (smoke: 0.2 epoch)
  assert.equal((await validate({ preset: 'smoke', config: { ...folder, epochs: 5 } })).config.warmupEpochs, 0.2);
});

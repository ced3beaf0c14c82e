// GET /v1/runs?name= (contains, ignoring case) and ?sourceRunId= (lineage: a run's fine-tunes).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let auth: { authorization: string };
let other: { authorization: string };
before(async () => {
  env = await startApiTestEnv();
  ({ auth } = await env.team());
  ({ auth: other } = await env.team());
});
after(async () => {
  await env?.close();
});

async function submit(headers: { authorization: string }, payload: Record<string, unknown>): Promise<string> {
  const r = await env.app.inject({ method: 'POST', url: '/v1/runs', headers, payload });
  assert.equal(r.statusCode, 201, r.body);
  return r.json().id;
}

async function list(headers: { authorization: string }, q: string): Promise<string[]> {
  const r = await env.app.inject({ method: 'GET', url: `/v1/runs?${q}`, headers });
  assert.equal(r.statusCode, 200, r.body);
  return r.json().runs.map((x: { name: string | null }) => x.name);
}

test('name filters by substring, ignoring case, within the team', async () => {
  await submit(auth, { kind: 'pretrain', preset: 'smoke', name: 'Alpha-ViT' });
  await submit(auth, { kind: 'pretrain', preset: 'smoke', name: 'beta-resnet' });
  await submit(other, { kind: 'pretrain', preset: 'smoke', name: 'alpha-other-team' });
  assert.deepEqual(await list(auth, 'name=alpha'), ['Alpha-ViT']);
  assert.deepEqual(await list(auth, 'name=A'), ['beta-resnet', 'Alpha-ViT']);
  assert.deepEqual(await list(auth, 'name=zzz'), []);
});

test("sourceRunId lists the runs fine-tuned from that run's checkpoints", async () => {
  const pre = await submit(auth, { kind: 'pretrain', preset: 'smoke', name: 'parent' });
  const unrelated = await submit(auth, { kind: 'pretrain', preset: 'smoke', name: 'unrelated' });
  for (const [runId, step] of [
    [pre, 4],
    [unrelated, 4],
  ] as const) {
    await env.db.checkpoint.create({
      data: { runId, step, uri: `s3://${env.s3.bucket}/runs/${runId}/checkpoints/${step}`, status: 'COMPLETE', completedAt: new Date() },
    });
  }
  await submit(auth, { kind: 'finetune', preset: 'smoke', name: 'child', source: { runId: pre, checkpoint: 'latest' } });
  await submit(auth, { kind: 'finetune', preset: 'smoke', name: 'cousin', source: { runId: unrelated, checkpoint: 'latest' } });
  assert.deepEqual(await list(auth, `sourceRunId=${pre}`), ['child']);
  // another team sees nothing of it
  assert.deepEqual(await list(other, `sourceRunId=${pre}`), []);
  const bad = await env.app.inject({ method: 'GET', url: '/v1/runs?sourceRunId=nope', headers: auth });
  assert.equal(bad.statusCode, 400);
});

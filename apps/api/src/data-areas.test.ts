/**
 * Image-folder roots at submission: relative to the team's data area, never absolute, never
 * climbing out, never with NUL; the worker's own `area` field can't be set by a client. Real
 * Postgres, Redis and s3rver; nothing is written for a refused run.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
let a: Awaited<ReturnType<ApiTestEnv['team']>>;
before(async () => {
  env = await startApiTestEnv();
  a = await env.team('alpha');
});
after(async () => {
  await env?.close();
});

const pretrain = (dataset: object) =>
  env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: { kind: 'pretrain', preset: 'smoke', config: { dataset: { kind: 'image-folder', ...dataset } } },
  });

test('absolute paths, "..", NUL, /proc, URLs and the worker-only area field are refused with a reason; nothing is written', async () => {
  const runs = await env.db.run.count();
  const cases: [object, string][] = [
    [{ root: '/etc' }, 'must be relative to your data area (e.g. "flowers/train"), not an absolute path or URL: "/etc"'],
    [
      { root: '/proc/self/root/etc' },
      'must be relative to your data area (e.g. "flowers/train"), not an absolute path or URL: "/proc/self/root/etc"',
    ],
    [{ root: 'file:///etc' }, 'must be relative to your data area (e.g. "flowers/train"), not an absolute path or URL: "file:///etc"'],
    [{ root: 'C:/data' }, 'must be relative to your data area (e.g. "flowers/train"), not an absolute path or URL: "C:/data"'],
    [{ root: '..' }, 'must not climb out with "..": ".."'],
    [{ root: '../team-b/flowers' }, 'must not climb out with "..": "../team-b/flowers"'],
    [{ root: 'flowers/../../team-b' }, 'must not climb out with "..": "flowers/../../team-b"'],
    [{ root: 'flowers\u0000/etc' }, 'contains a NUL character'], // refused by the JSON body check before the schema
    [{ root: 'flowers\\..\\..' }, 'must use "/" between folders, not "\\"'],
    [{ root: '' }, 'must not be empty (a folder in your data area, e.g. "flowers")'],
    [{ root: 'a//b' }, 'must be a plain path without empty or "." segments: "a//b"'],
    [{ root: './flowers' }, 'must be a plain path without empty or "." segments: "./flowers"'],
    [{ root: '.ssh' }, 'must not name hidden (dot) folders: ".ssh"'],
    [{ root: 'x'.repeat(1025) }, 'must be at most 1024 characters'],
  ];
  for (const [dataset, reason] of cases) {
    const r = await pretrain(dataset);
    assert.equal(r.statusCode, 400, `${JSON.stringify(dataset)}: ${r.body}`);
    assert.equal(r.json().message, `body/config/dataset/root ${reason}`);
  }
  const area = await pretrain({ root: 'flowers', area: '/' });
  assert.equal(area.statusCode, 400);
  assert.equal(area.json().message, 'body/config/dataset/area is not allowed (unknown field)');
  const store = await pretrain({ root: 'flowers', store: 'nfs' });
  assert.equal(store.json().message, 'body/config/dataset/store must be equal to one of the allowed values: "disk", "s3"');
  const split = await pretrain({ root: 'flowers', split: 'test' });
  assert.equal(split.json().message, 'body/config/dataset/split must be equal to one of the allowed values: "all", "train", "val"');
  const frac = await pretrain({ root: 'flowers', valFraction: 1 });
  assert.match(frac.json().message, /^body\/config\/dataset\/valFraction must be < 1/);
  // every dataset field of every kind is checked: a finetune's evalDataset and an eval's dataset
  const ft = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: {
      kind: 'finetune',
      preset: 'smoke',
      source: { runId: '00000000-0000-4000-8000-000000000001', checkpoint: 'latest' },
      config: { evalDataset: { kind: 'image-folder', root: '/etc' } },
    },
  });
  assert.equal(ft.statusCode, 400);
  assert.match(ft.json().message, /^body\/config\/evalDataset\/root must be relative/);
  const ev = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: {
      kind: 'eval',
      source: { runId: '00000000-0000-4000-8000-000000000001', checkpoint: 'latest' },
      config: { dataset: { kind: 'image-folder', root: 'x/../../..' } },
    },
  });
  assert.equal(ev.statusCode, 400);
  assert.equal(ev.json().message, 'body/config/dataset/root must not climb out with "..": "x/../../.."');
  assert.equal(await env.db.run.count(), runs);
});

test('a relative root is stored as given; a finetune on one folder trains on its train part and scores on its held-out part', async () => {
  const ok = await pretrain({ root: 'flowers/train/', store: 's3' });
  assert.equal(ok.statusCode, 201, ok.body);
  assert.deepEqual(ok.json().config.dataset, { kind: 'image-folder', root: 'flowers/train/', store: 's3' });

  const ckptRun = await env.db.run.create({ data: { teamId: a.teamId, kind: 'pretrain', status: 'SUCCEEDED', config: {}, worldSize: 1 } });
  await env.db.checkpoint.create({
    data: { runId: ckptRun.id, uri: `s3://${env.s3.bucket}/runs/${ckptRun.id}/checkpoints/step-00000001`, step: 1, status: 'COMPLETE' },
  });
  const source = { runId: ckptRun.id, checkpoint: 'latest' };
  const ft = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: {
      kind: 'finetune',
      preset: 'smoke',
      source,
      validateOnly: true,
      config: { dataset: { kind: 'image-folder', root: 'flowers', store: 's3', valFraction: 0.25 } },
    },
  });
  assert.equal(ft.statusCode, 200, ft.body);
  assert.deepEqual(ft.json().config.dataset, { kind: 'image-folder', root: 'flowers', store: 's3', valFraction: 0.25, split: 'train' });
  assert.deepEqual(ft.json().config.evalDataset, { kind: 'image-folder', root: 'flowers', store: 's3', valFraction: 0.25, split: 'val' });
  const ev = await env.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: a.auth,
    payload: { kind: 'eval', preset: 'smoke', source, validateOnly: true, config: { dataset: { kind: 'image-folder', root: 'flowers' } } },
  });
  assert.equal(ev.statusCode, 200, ev.body);
  assert.deepEqual(ev.json().config.dataset, { kind: 'image-folder', root: 'flowers', split: 'val' });
});

// The portal's pure parts: smoothing, config diffs, the SSE parser, the submit form's body and
// derived values, live-point merging, tick labels and path matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Validated } from '@cim-forge/client';
import { smooth } from './lib/smoothing.ts';
import { diffConfigs, flatten } from './lib/config-diff.ts';
import { SseParser } from './api/sse.ts';

test('smooth: weight 0 is the raw series; debiased EMA otherwise; non-finite values pass through', () => {
  assert.deepEqual(smooth([1, 2, 3], 0), [1, 2, 3]);
  const s = smooth([10, 0, 0], 0.5);
  // debiased: the first value is itself; then (0.5·10·0.5 + 0)/(1 − 0.25) …
  assert.equal(s[0], 10);
  assert.ok(Math.abs((s[1] as number) - (0.5 * 5) / 0.75) < 1e-12);
  assert.ok(Math.abs((s[2] as number) - (0.25 * 5) / 0.875) < 1e-12);
  assert.deepEqual(
    smooth([1, null, Number.NaN, 1], 0.9).map((v) => (v === null || Number.isNaN(v) ? v : Number(v.toFixed(6)))),
    [1, null, Number.NaN, 1],
  );
});

test('diffConfigs flattens nested keys and marks what differs, missing keys included', () => {
  assert.deepEqual(flatten({ a: 1, b: { c: [1, 2], d: null } }), { a: 1, 'b.c': [1, 2], 'b.d': null });
  const rows = diffConfigs([
    { lr: 1e-3, data: { size: 1024 }, model: 'x' },
    { lr: 3e-3, data: { size: 1024 }, extra: true, model: 'x' },
  ]);
  assert.deepEqual(
    rows.map((r) => [r.key, r.differs]),
    [
      ['lr', true],
      ['data.size', false],
      ['model', false],
      ['extra', true],
    ],
  );
  assert.deepEqual(rows[3].values, [undefined, true]);
});

test('SseParser: messages split across chunks, ids carried, comments skipped, CRLF accepted', () => {
  const p = new SseParser();
  assert.deepEqual(p.push(': stream open\n\nid: 1.2.3\nevent: status\ndata: {"status":'), []);
  assert.deepEqual(p.push('"RUNNING"}\n\n: keepalive\n\nid: 1.3.3\r\nevent: run-event\r\ndata: {"id":3}\r\n\r\n'), [
    { id: '1.2.3', event: 'status', data: { status: 'RUNNING' } },
    { id: '1.3.3', event: 'run-event', data: { id: 3 } },
  ]);
  assert.equal(p.lastId, '1.3.3');
});

test('the submit form: body, refused JSON, derived values', async () => {
  const { toBody, derivedValues } = await import('./pages/submit.tsx');
  const base = {
    kind: 'pretrain' as const,
    preset: 'smoke',
    name: ' a ',
    worldSize: 2,
    priority: 5,
    maxRestarts: 1,
    sourceRunId: '',
    checkpoint: 'latest',
    encoder: 'online' as const,
    overrides: '{"batchSize": 16}',
  };
  assert.deepEqual(toBody(base), {
    kind: 'pretrain',
    preset: 'smoke',
    name: 'a',
    config: { batchSize: 16 },
    worldSize: 2,
    priority: 5,
    maxRestarts: 1,
  });
  assert.deepEqual(toBody({ ...base, kind: 'finetune', sourceRunId: 'r1', overrides: '' }), {
    kind: 'finetune',
    preset: 'smoke',
    name: 'a',
    worldSize: 1,
    priority: 5,
    maxRestarts: 1,
    source: { runId: 'r1', checkpoint: 'latest' },
    encoder: 'online',
  });
  assert.match(toBody({ ...base, overrides: '{' }) as string, /^Config overrides are not valid JSON/);
  assert.equal(toBody({ ...base, overrides: '[1]' }), 'Config overrides must be a JSON object');
  const d = derivedValues({
    valid: true,
    kind: 'pretrain',
    worldSize: 4,
    config: { batchSize: 32, epochs: 2, baseLr: 0.0015, sampler: {} },
    // a field this portal does not know (a newer API's): shown as it comes
    memoryEstimate: { bytes: 12 },
  } as unknown as Validated);
  assert.deepEqual(d, [
    ['ranks', '4'],
    ['global batch', '128 (32 × 4)'],
    ['epochs', '2'],
    ['baseLr', '0.0015'],
    ['memoryEstimate', '{"bytes":12}'],
  ]);
});

test('live points are appended after the history, by step; tick labels stay short', async () => {
  const { mergeLive } = await import('./components/curves.tsx');
  const { fmtTick } = await import('./components/LineChart.tsx');
  const history = {
    runId: 'r',
    name: 'loss',
    rank: null,
    every: 1,
    total: 2,
    points: [
      { step: 1, value: 5, at: '' },
      { step: 2, value: 4, at: '' },
    ],
  };
  assert.deepEqual(
    mergeLive(
      history,
      new Map([
        [4, 2],
        [2, 9],
        [3, 3],
      ]),
    ),
    { x: [1, 2, 3, 4], y: [5, 4, 3, 2] },
  );
  assert.deepEqual(mergeLive(undefined, new Map([[7, 1]])), { x: [7], y: [1] });
  assert.deepEqual([0, 0.0015, 1.5e-5, 42.123, 123456].map(fmtTick), ['0', '1.5e−3', '1.5e−5', '42.1', '1.2e+5']);
});

test('routes match their patterns', async () => {
  const { match } = await import('./routing.tsx');
  assert.deepEqual(match('/runs/:id', '/runs/abc'), { id: 'abc' });
  assert.equal(match('/runs/:id', '/runs'), null);
  assert.equal(match('/runs/:id', '/queue/abc'), null);
});

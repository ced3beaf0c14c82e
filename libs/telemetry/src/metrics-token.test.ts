import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { bearerMatches, metricsTokenProblem, METRICS_UNAUTHORIZED, startMetricsServer, workerMetrics } from './index.ts';

const token = 'metrics-token-0123456789abcdef';

describe('bearerMatches', () => {
  it('accepts exactly "Bearer <token>" (scheme in any case) and nothing near it', () => {
    assert.equal(bearerMatches(`Bearer ${token}`, token), true);
    assert.equal(bearerMatches(`bearer ${token}`, token), true);
    for (const h of [
      undefined,
      '',
      'Bearer',
      'Bearer ',
      token,
      `Basic ${token}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
      `Bearer ${token} extra`,
      [`Bearer ${token}`],
    ]) {
      assert.equal(bearerMatches(h, token), false, String(h));
    }
  });

  it('metricsTokenProblem: at least 24 printable characters, no spaces', () => {
    assert.equal(metricsTokenProblem(token), undefined);
    assert.match(metricsTokenProblem('short') ?? '', /at least 24 characters/);
    assert.match(metricsTokenProblem(`${token} ${token}`) ?? '', /printable ASCII without spaces/);
  });
});

describe('startMetricsServer with a token', () => {
  it('/metrics → 401 without or with a wrong token, 200 with it; /healthz and /readyz stay open', async () => {
    const registry = new Registry();
    workerMetrics(registry, { worker: 'w-1', backend: 'cpu' })
      .rank({ run_id: 'run-secret-id', rank: 0, team: 'team-secret-id' })
      .heartbeat(7);
    const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', token });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const refused: Record<string, string>[] = [{}, { authorization: 'Bearer wrong-token-0123456789abcdef' }, { authorization: token }];
      for (const headers of refused) {
        const r = await fetch(`${base}/metrics`, { headers });
        assert.equal(r.status, 401);
        assert.equal(r.headers.get('www-authenticate'), 'Bearer');
        const text = await r.text();
        assert.deepEqual(JSON.parse(text), METRICS_UNAUTHORIZED);
        assert.ok(!text.includes('secret-id'));
      }
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 401);
      const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /^cim_rank_heartbeat_timestamp_seconds\{run_id="run-secret-id",rank="0",team="team-secret-id"\} 7$/m);
      const h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(await h.json(), { status: 'ok' });
      const ready = await fetch(`${base}/readyz`);
      assert.equal(ready.status, 200);
      assert.deepEqual(await ready.json(), { status: 'ready' });
    } finally {
      await server.close();
    }
  });

  it('a collector that throws answers a generic 500, its message stays in the process', async () => {
    const registry = new Registry();
    registry.registerMetric({
      name: 'broken',
      help: 'x',
      type: 'gauge',
      aggregator: 'sum',
      get: () => Promise.reject(new Error('connect ECONNREFUSED db.internal:5432')),
      reset: () => {},
      // prom-client's Metric interface, the minimum a registry calls
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1' });
    try {
      const r = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assert.equal(r.status, 500);
      assert.equal(await r.text(), 'internal error\n');
    } finally {
      await server.close();
    }
  });
});

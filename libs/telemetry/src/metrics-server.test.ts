import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createRegistry, startMetricsServer, workerMetrics } from './index.ts';

describe('startMetricsServer', () => {
  it('serves /metrics, /healthz and /readyz on an ephemeral port', async () => {
    const registry = createRegistry({ service: 'worker', backend: 'cpu' });
    workerMetrics(registry, { worker: 'w-1', backend: 'cpu' }).rank({ run_id: 'r', rank: 3, team: 't' }).heartbeat(42);
    let ready = false;
    const server = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', ready: async () => ready });
    try {
      assert.ok(server.port > 0);
      const base = `http://127.0.0.1:${server.port}`;
      const m = await fetch(`${base}/metrics`);
      assert.equal(m.status, 200);
      assert.equal(m.headers.get('content-type'), Registry.PROMETHEUS_CONTENT_TYPE);
      assert.match(
        await m.text(),
        /^cim_rank_heartbeat_timestamp_seconds\{run_id="r",rank="3",team="t",component="worker",backend="cpu"\} 42$/m,
      );
      const h = await fetch(`${base}/healthz`);
      assert.equal(h.status, 200);
      assert.deepEqual(await h.json(), { status: 'ok' });
      assert.equal((await fetch(`${base}/readyz`)).status, 503);
      ready = true;
      assert.equal((await fetch(`${base}/readyz`)).status, 200);
      assert.equal((await fetch(`${base}/nope`)).status, 404);
      assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
    } finally {
      await server.close();
    }
  });

  it('a ready() that throws is not ready; no ready() means ready', async () => {
    const registry = new Registry();
    const s1 = await startMetricsServer({ registry, port: 0, host: '127.0.0.1', ready: () => Promise.reject(new Error('db down')) });
    const s2 = await startMetricsServer({ registry, port: 0, host: '127.0.0.1' });
    try {
      assert.notEqual(s1.port, s2.port);
      assert.equal((await fetch(`http://127.0.0.1:${s1.port}/readyz`)).status, 503);
      assert.equal((await fetch(`http://127.0.0.1:${s2.port}/readyz`)).status, 200);
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });

  it('close() is idempotent and frees the port; a taken port rejects', async () => {
    const registry = new Registry();
    const s = await startMetricsServer({ registry, port: 0, host: '127.0.0.1' });
    await assert.rejects(startMetricsServer({ registry, port: s.port, host: '127.0.0.1' }), /EADDRINUSE/);
    const first = s.close();
    assert.equal(s.close(), first);
    await first;
    await assert.rejects(fetch(`http://127.0.0.1:${s.port}/healthz`));
    const again = await startMetricsServer({ registry, port: s.port, host: '127.0.0.1' });
    assert.equal(again.port, s.port);
    await again.close();
  });
});

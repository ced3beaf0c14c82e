// One delivery attempt against a real receiver on loopback (allowed by the policy, as an admin's
// CIM_WEBHOOK_ALLOWED_NETWORKS would): a receiver that trickles its response a byte at a time is cut
// off by the attempt's wall-clock limit (before, the timeout measured silence and the attempt lived
// as long as the receiver kept writing), and an endless response is cut off at the byte cap.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AddressPolicy } from './address-policy.ts';
import { postWebhook } from './webhook-post.ts';

const policy = new AddressPolicy(['127.0.0.0/8']);
let server: http.Server;
let base: string;
/** bytes each receiver path wrote, and whether its response finished */
const written = new Map<string, number>();
const finished = new Set<string>();
const timers = new Set<NodeJS.Timeout>();

/** /trickle: 200, then one byte every 100 ms for 600 bytes (a minute); /flood: 200 and 16 MiB as fast as the socket takes them */
before(async () => {
  server = http.createServer((req, res) => {
    req.resume();
    const path = req.url ?? '';
    written.set(path, 0);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.flushHeaders();
    if (path === '/trickle') {
      const t = setInterval(() => {
        if (res.destroyed) return clearInterval(t);
        res.write('x');
        written.set(path, written.get(path)! + 1);
        if (written.get(path)! >= 600) {
          clearInterval(t);
          finished.add(path);
          res.end();
        }
      }, 100);
      timers.add(t);
    } else {
      const chunk = Buffer.alloc(64 * 1024, 'y');
      const pump = () => {
        while (!res.destroyed && written.get(path)! < 16 * 1024 * 1024) {
          written.set(path, written.get(path)! + chunk.length);
          if (!res.write(chunk)) return res.once('drain', pump);
        }
        if (!res.destroyed) {
          finished.add(path);
          res.end();
        }
      };
      pump();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  for (const t of timers) clearInterval(t);
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('a receiver that trickles one byte at a time is cut off by the wall-clock limit, not kept alive by each byte', async () => {
  const r = await postWebhook({
    url: `${base}/trickle`,
    body: '{}',
    headers: { 'content-type': 'application/json' },
    policy,
    timeoutMs: 1500,
  });
  assert.equal(r.refused, false);
  assert.match(r.error ?? '', /no complete response within 1500 ms/);
  // the receiver had 600 bytes to write; the attempt ended long before it finished
  assert.ok(!finished.has('/trickle'), 'the attempt waited for the whole trickle');
  const bytes = written.get('/trickle')!;
  assert.ok(bytes > 0 && bytes < 600, `receiver wrote ${bytes} bytes before the cut`);
});

test('a response over the byte cap fails the attempt and the connection is cut', async () => {
  const r = await postWebhook({
    url: `${base}/flood`,
    body: '{}',
    headers: { 'content-type': 'application/json' },
    policy,
    timeoutMs: 60_000,
    maxResponseBytes: 256 * 1024,
  });
  assert.equal(r.statusCode, 200);
  assert.match(r.error ?? '', /response larger than 262144 bytes: cut off/);
  // the receiver could not push its 16 MiB through: the socket closed under it
  await new Promise((res) => setTimeout(res, 200));
  assert.ok(!finished.has('/flood'), 'the whole 16 MiB were read');
  assert.ok(written.get('/flood')! < 16 * 1024 * 1024, `receiver wrote ${written.get('/flood')} bytes`);
});

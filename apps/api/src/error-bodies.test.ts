// 503 bodies say which service did not answer and carry the request id, never the driver's message
// (issue 24, LOW): an S3 endpoint that refuses connections (a closed loopback port) used to put
// "connect ECONNREFUSED 127.0.0.1:<port>" into the body. The detail goes to the log, under the
// same request id. Real PostgreSQL and Redis; the dead S3 endpoint is a real closed port.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { S3Client } from '@aws-sdk/client-s3';
import { importPrefix } from '@cim-forge/storage';
import { buildApp } from './app.ts';
import { startApiTestEnv, type ApiTestEnv } from './testing/api-test-env.ts';

let env: ApiTestEnv;
before(async () => {
  env = await startApiTestEnv();
});
after(async () => {
  await env?.close();
});

/** a loopback port nobody listens on */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

test('S3 not answering: 503 naming the object store and the request id, no host:port; the detail is logged', async () => {
  const port = await closedPort();
  const dead = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const lines: string[] = [];
  const app = await buildApp({
    db: env.db,
    redis: env.redis,
    runsQueue: env.queue,
    queuePrefix: env.prefix,
    s3: { client: dead, bucket: env.s3.bucket },
    adminToken: env.adminToken,
    logger: {
      level: 'error',
      stream: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    } as never,
  });
  try {
    const t = await env.team();
    const uri = `s3://${env.s3.bucket}/${importPrefix(t.teamId)}weights.safetensors`;
    const r = await app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: t.auth,
      payload: { kind: 'finetune', preset: 'smoke', source: { uri } },
    });
    assert.equal(r.statusCode, 503, r.body);
    const message = r.json().message as string;
    assert.equal(
      message,
      `could not check source uri ${uri}: the object store did not answer; retry later (request ${r.headers['x-request-id']})`,
    );
    assert.doesNotMatch(r.body, new RegExp(`${port}|ECONNREFUSED|127\\.0\\.0\\.1`));
    // the log has what the body does not
    const logged = lines.find((l) => l.includes(String(r.headers['x-request-id'])));
    assert.ok(logged, `no log line for request ${r.headers['x-request-id']}: ${lines.join('')}`);
    assert.match(logged, /ECONNREFUSED/);
  } finally {
    await app.close();
    dead.destroy();
  }
});

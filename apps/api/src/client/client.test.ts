/**
 * libs/client: generated from this app's OpenAPI document (and kept so), browser-safe, and its
 * README example works against a real API (Postgres, Redis, s3rver; the API on an ephemeral port).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { submitAndCancel } from '@cim-forge/client/example';
import { startApiTestEnv, type ApiTestEnv } from '../testing/api-test-env.ts';
import { generateClientTypes, generateClientValues, generatedClientFile, generatedValuesFile } from './generate-client.ts';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
let env: ApiTestEnv;
let baseUrl: string;

before(async () => {
  env = await startApiTestEnv();
  await env.app.listen({ port: 0, host: '127.0.0.1' });
  baseUrl = `http://127.0.0.1:${(env.app.server.address() as AddressInfo).port}`;
});
after(async () => {
  await env?.close();
});

test('the committed client types equal a fresh generation from the OpenAPI document (run npm run client:generate if not)', async () => {
  const fresh = await generateClientTypes();
  const committed = await readFile(generatedClientFile, 'utf8');
  assert.ok(fresh === committed, 'libs/client/src/generated/openapi.ts is stale: run `npm run client:generate` and commit it');
  // every /v1 route of the app is in it
  const doc = env.app.swagger() as { paths: Record<string, unknown> };
  const missing = Object.keys(doc.paths).filter((p) => !committed.includes(`"${p}": {`));
  assert.deepEqual(missing, []);
  assert.ok(Object.keys(doc.paths).length >= 18, `${Object.keys(doc.paths).length} paths`);
  const values = await readFile(generatedValuesFile, 'utf8');
  assert.ok(values === (await generateClientValues()), 'libs/client/src/generated/values.ts is stale: run `npm run client:generate`');
  assert.match(values, /RUN_STATUSES = \["QUEUED", "STARTING", "RUNNING", "RESTARTING", "SUCCEEDED", "FAILED", "CANCELLED", "PAUSED"\] as const/);
});

test('the client and its example type-check as a browser sees them (DOM, no Node types)', () => {
  const r = spawnSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', 'libs/client/tsconfig.json'], {
    cwd: root,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test("the README's example is the example file, and it runs against the real API", async () => {
  const readme = await readFile(`${root}libs/client/README.md`, 'utf8');
  const example = await readFile(`${root}libs/client/examples/submit-and-cancel.ts`, 'utf8');
  const block = /<!-- example:begin -->\n```ts\n([\s\S]*?)```\n<!-- example:end -->/.exec(readme)?.[1];
  assert.equal(block, example);

  const { token, teamId } = await env.team();
  const lines = await submitAndCancel(baseUrl, token);
  assert.equal(lines[0], 'pretrain presets: cpu-small, smoke, cpu-resnet, bench-vit-tiny, official-vit-base');
  assert.equal(lines[1], 'validateOnly: HTTP 200');
  const id = /^submitted ([0-9a-f-]{36}): QUEUED, world size 1$/.exec(lines[2])?.[1];
  assert.ok(id, lines[2]);
  assert.deepEqual(lines.slice(3), ['queue: 1 run(s) waiting', 'events: run.queued', 'cancelled: CANCELLED', 'cancel again: 409']);
  const row = await env.db.run.findUniqueOrThrow({ where: { id } });
  assert.deepEqual([row.teamId, row.status, row.name], [teamId, 'CANCELLED', 'client-example']);
});

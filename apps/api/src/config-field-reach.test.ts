/**
 * One config field, written once (in its schema), reaches every process that reads a config: the
 * API's submit schema and validator, the OpenAPI document (and so the generated client), the
 * CLI's `--config` parse and the rank runner's parse of a stored config. The test adds a field to
 * PretrainConfigSchema before any of them is loaded, as an edit of pretrain-schema.ts would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from 'typebox';
// eslint-disable-next-line @nx/enforce-module-boundaries -- the schema module alone, loaded before the rest of the config lib
import { PretrainConfigSchema } from '../../../libs/config/src/schema/pretrain-schema.ts';

// the one edit: a new field with its bounds and its default
const schema = PretrainConfigSchema as unknown as { properties: Record<string, unknown>; required: string[] };
schema.properties.probeField = Type.Integer({ minimum: 0, maximum: 9, default: 7, description: 'a field added by a test' });
schema.required.push('probeField');

const { SubmitRunBody } = await import('./schemas/run.ts');
const { checkSubmitBody } = await import('./runs/submit-body-validator.ts');
const { openApiDocument } = await import('./client/openapi-document.ts');
// eslint-disable-next-line @nx/enforce-module-boundaries -- the CLI's own --config reader
const { readConfigFile } = await import('../../cli/src/run-command.ts');
// eslint-disable-next-line @nx/enforce-module-boundaries -- the rank runner's own parse
const { runConfig } = await import('../../worker/src/stored-config.ts');

test("the API's submit schema documents it and its validator checks it", () => {
  const pretrainInput = SubmitRunBody.properties.config.anyOf[0] as unknown as { properties: Record<string, { default?: number }> };
  assert.equal(pretrainInput.properties.probeField?.default, 7);
  assert.deepEqual(checkSubmitBody({ kind: 'pretrain', config: { probeField: 3 } }), {
    value: { kind: 'pretrain', config: { probeField: 3 } },
  });
  const bad = checkSubmitBody({ kind: 'pretrain', config: { probeField: 10 } }) as { error: { instancePath: string; message: string }[] };
  assert.deepEqual(
    bad.error.map((e) => [e.instancePath, e.message]),
    [['/config/probeField', 'must be <= 9']],
  );
});

test('the OpenAPI document carries it, with its bounds and default', async () => {
  const doc = (await openApiDocument()) as { paths: Record<string, Record<string, unknown>> };
  const body = doc.paths['/v1/runs'].post as { requestBody: { content: Record<string, { schema: unknown }> } };
  const found: Record<string, unknown>[] = [];
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    if (o.properties && typeof o.properties === 'object' && 'probeField' in o.properties)
      found.push((o.properties as Record<string, Record<string, unknown>>).probeField);
    for (const x of Object.values(o)) walk(x);
  };
  walk(body.requestBody.content['application/json'].schema);
  assert.equal(found.length, 1);
  assert.deepEqual([found[0].type, found[0].minimum, found[0].maximum, found[0].default], ['integer', 0, 9, 7]);
});

test("the CLI's --config parse takes it and checks its bounds", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cim-field-'));
  try {
    await writeFile(join(dir, 'ok.json'), '{"probeField": 3}');
    assert.deepEqual(await readConfigFile('pretrain', join(dir, 'ok.json')), { probeField: 3 });
    await writeFile(join(dir, 'bad.json'), '{"probeField": 11}');
    await assert.rejects(readConfigFile('pretrain', join(dir, 'bad.json')), /config\/probeField must be <= 9/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the rank runner's parse fills its default (from the schema) and keeps a stored value", () => {
  assert.equal((runConfig('pretrain', {}) as unknown as Record<string, unknown>).probeField, 7);
  assert.equal((runConfig('pretrain', { probeField: 4 }) as unknown as Record<string, unknown>).probeField, 4);
  assert.throws(() => runConfig('pretrain', { probeField: -1 }), /pretrain config\/probeField must be >= 0/);
});

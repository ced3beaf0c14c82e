/**
 * libs/cim's layers (eslint.config.mjs enforces them at lint time; this reads every import, so a
 * plain test run fails too): bottom to top nn/ sampler/ optim/ io/ backend/ → head/ → vit/ and
 * resnet/ → the factory, classifiers, parity and the doors. No non-test file imports upward, the
 * backbones never import each other, and the sampler stays tfjs-free.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = dirname(fileURLToPath(import.meta.url));
const BASE = ['nn', 'sampler', 'optim', 'io', 'backend', 'rng.ts'];
const RANK: Record<string, number> = { ...Object.fromEntries(BASE.map((d) => [d, 0])), head: 1, vit: 2, resnet: 2 };

/** The layer of a path under src/: its first segment's rank; the top (root files, classifier/, testing/) is 3. */
function rankOf(path: string): number {
  return RANK[path.split('/')[0]] ?? 3;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

/** `from '…'` and `import '…'` specifiers of one file's text. */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:from|import)\s+'([^']+)'/g)].map((m) => m[1]);
}

/** Every upward or sideways (vit ↔ resnet) import, and every tfjs import in the sampler, as `file → target`. */
function layerViolations(files: { file: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const { file, text } of files) {
    const from = relative(SRC, file);
    for (const spec of importsOf(text)) {
      if (from.startsWith('sampler/') && spec.startsWith('@tensorflow/')) bad.push(`${from} → ${spec}`);
      if (spec.startsWith('@cim-forge/cim')) bad.push(`${from} → ${spec}`);
      if (!spec.startsWith('.')) continue;
      const to = relative(SRC, join(dirname(file), spec));
      const [a, b] = [rankOf(from), rankOf(to)];
      const sideways = a === 2 && b === 2 && from.split('/')[0] !== to.split('/')[0];
      if (b > a || sideways || (from.startsWith('sampler/') && !to.startsWith('sampler/') && to !== 'rng.ts')) bad.push(`${from} → ${to}`);
    }
  }
  return bad;
}

const read = (file: string) => ({ file, text: readFileSync(file, 'utf8') });

test('no import inside libs/cim runs back up its layers', () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, `found only ${files.length} source files`);
  assert.deepEqual(layerViolations(files.map(read)), []);
});

test('the layer check refuses upward, sideways and door imports (it can fail)', () => {
  const probe = (file: string, spec: string) => layerViolations([{ file: join(SRC, file), text: `import { x } from '${spec}';` }]);
  assert.deepEqual(probe('nn/layers.ts', '../head/cim-base.ts'), ['nn/layers.ts → head/cim-base.ts']);
  assert.deepEqual(probe('head/cim-base.ts', '../cim-model-config.ts'), ['head/cim-base.ts → cim-model-config.ts']);
  assert.deepEqual(probe('head/correlation-decoder.ts', '../vit/params.ts'), ['head/correlation-decoder.ts → vit/params.ts']);
  assert.deepEqual(probe('resnet/cim-resnet.ts', '../vit/cim-vit.ts'), ['resnet/cim-resnet.ts → vit/cim-vit.ts']);
  assert.deepEqual(probe('sampler/sampler.ts', '../nn/tensors.ts'), ['sampler/sampler.ts → nn/tensors.ts']);
  assert.deepEqual(probe('sampler/sampler.ts', '@tensorflow/tfjs-core'), ['sampler/sampler.ts → @tensorflow/tfjs-core']);
  assert.deepEqual(probe('vit/cim-vit.ts', '@cim-forge/cim/config'), ['vit/cim-vit.ts → @cim-forge/cim/config']);
  // downward imports pass
  assert.deepEqual(probe('resnet/cim-resnet.ts', '../head/cim-base.ts'), []);
  assert.deepEqual(probe('create-cim-model.ts', './vit/cim-vit.ts'), []);
  assert.deepEqual(probe('classifier/vit-classifier.ts', '../vit/params.ts'), []);
});

test('the lib has three doors: index, config and testing', () => {
  const tsconfig = JSON.parse(readFileSync(join(SRC, '../../../tsconfig.base.json'), 'utf8'));
  const doors = Object.keys(tsconfig.compilerOptions.paths).filter((k) => k === '@cim-forge/cim' || k.startsWith('@cim-forge/cim/'));
  assert.deepEqual(doors.sort(), ['@cim-forge/cim', '@cim-forge/cim/config', '@cim-forge/cim/testing']);
});

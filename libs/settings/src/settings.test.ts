import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BACKEND_NAMES, SETTINGS, SettingsReader, settingsTable } from './settings.ts';

const root = join(import.meta.dirname, '../../..');

test('defaults come from the table, per role; blank is unset', () => {
  const w = new SettingsReader({ METRICS_PORT: '' }, 'worker');
  const c = new SettingsReader({}, 'controller');
  assert.deepEqual([w.int('METRICS_PORT'), c.int('METRICS_PORT')], [9464, 9465]);
  assert.equal(new SettingsReader({}, 'dev').text('DATABASE_URL'), 'postgresql://postgres@127.0.0.1:5432/cim_dev');
  assert.equal(new SettingsReader({}, 'api').text('DATABASE_URL'), undefined);
  assert.equal(new SettingsReader({}, 'api').text('REDIS_URL'), 'redis://127.0.0.1:6379');
  assert.equal(new SettingsReader({ CIM_DATA_MAX_BYTES: '1024' }, 'cli').int('CIM_DATA_MAX_BYTES'), 1024);
  assert.equal(new SettingsReader({}, 'cli').int('CIM_DATA_MAX_BYTES'), 20 * 1024 ** 3);
});

test('a variable the table does not give a role is a programming error, not a silent undefined', () => {
  assert.throws(() => new SettingsReader({}, 'cli').text('CIM_ADMIN_TOKEN'), /CIM_ADMIN_TOKEN is not a cli setting/);
  assert.throws(() => new SettingsReader({}, 'api').text('NO_SUCH_VARIABLE'), /NO_SUCH_VARIABLE is not a api setting/);
});

test('every problem is collected, each naming its variable; one alone is the message', () => {
  const r = new SettingsReader(
    { PORT: '80a', CIM_RATE_LIMIT_PER_MINUTE: '0', REDIS_URL: 'http://:pw@r', S3_FORCE_PATH_STYLE: 'yes' },
    'api',
  );
  assert.equal(r.int('PORT', { min: 0, max: 65535 }), 0);
  r.int('CIM_RATE_LIMIT_PER_MINUTE');
  r.url('REDIS_URL', ['redis:', 'rediss:']);
  r.s3();
  assert.deepEqual(r.problems, [
    'PORT must be an integer in [0, 65535], got "80a"',
    'CIM_RATE_LIMIT_PER_MINUTE must be an integer ≥ 1, got "0"',
    'REDIS_URL must start with redis:// or rediss://, got "http://…"',
    'S3_FORCE_PATH_STYLE must be true, false, 1 or 0, got "yes"',
  ]);
  assert.throws(
    () => r.done('API'),
    (e: Error) => e.message.split('\n').length === 5 && e.message.startsWith('invalid API configuration:\n  - PORT'),
  );
  const backend = new SettingsReader({ CIM_BACKEND: 'cuda' }, 'worker');
  assert.equal(backend.oneOf('CIM_BACKEND', BACKEND_NAMES), 'auto');
  assert.deepEqual(backend.problems, ['CIM_BACKEND must be one of auto, tensorflow, wasm, cpu, webgpu, got "cuda"']);
  const one = new SettingsReader({ CIM_WEBGPU_ADAPTER: 'vulkan' }, 'cli');
  one.webGpuAdapter();
  assert.throws(() => one.done('cim'), /^Error: CIM_WEBGPU_ADAPTER: unknown WebGPU adapter "vulkan": use gpu or software$/);
});

test('Redis: lists drop blanks, fall back when unset, mask passwords; the renamed CIM_REDIS_URL is refused by name', () => {
  const r = new SettingsReader({ CIM_COLLECTIVE_REDIS_URLS: 'redis://a:6379, ,rediss://:pw@b:6380' }, 'worker');
  assert.deepEqual(r.redisUrls('CIM_COLLECTIVE_REDIS_URLS', ['redis://q:6379']), ['redis://a:6379', 'rediss://:pw@b:6380']);
  assert.deepEqual(new SettingsReader({}, 'cli').redisUrls('CIM_COLLECTIVE_REDIS_URLS', ['redis://q:6379']), ['redis://q:6379']);
  const bad = new SettingsReader({ CIM_COLLECTIVE_REDIS_URLS: 'tcp://:secret@x' }, 'worker');
  bad.redisUrls('CIM_COLLECTIVE_REDIS_URLS', []);
  assert.deepEqual(bad.problems, ['CIM_COLLECTIVE_REDIS_URLS must be redis:// or rediss:// URLs separated by commas, got "tcp://:***@x"']);
  const renamed = new SettingsReader({ CIM_REDIS_URL: 'redis://x' }, 'cli');
  assert.deepEqual(renamed.problems, ['CIM_REDIS_URL was renamed CIM_COLLECTIVE_REDIS_URLS; set that instead']);
});

test('S3: region falls back to AWS_REGION then us-east-1; path style defaults on with an endpoint; checksums are checked', () => {
  const r = new SettingsReader(
    { S3_ENDPOINT: 'http://127.0.0.1:4569', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1' },
    'worker',
  );
  assert.deepEqual(r.s3(), {
    endpoint: 'http://127.0.0.1:4569',
    region: 'eu-west-1',
    accessKeyId: 'k',
    secretAccessKey: 's',
    sessionToken: undefined,
    forcePathStyle: true,
    checksums: undefined,
  });
  const aws = new SettingsReader({ S3_REGION: 'us-west-2' }, 'api').s3();
  assert.deepEqual([aws.region, aws.endpoint, aws.forcePathStyle], ['us-west-2', undefined, false]);
  assert.equal(new SettingsReader({}, 'cli').s3().region, 'us-east-1');
  assert.equal(new SettingsReader({ S3_ENDPOINT: 'http://x', S3_FORCE_PATH_STYLE: 'false' }, 'cli').s3().forcePathStyle, false);
  const half = new SettingsReader({ S3_CHECKSUMS: 'always', S3_ACCESS_KEY_ID: 'k' }, 'controller');
  half.s3();
  assert.deepEqual(half.problems, [
    'S3_CHECKSUMS must be when_required or when_supported, got "always"',
    'S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together',
  ]);
});

test('check() and validate() name the variable of a foreign check', () => {
  const r = new SettingsReader({ CIM_WEBHOOK_ALLOWED_NETWORKS: '10.0.0.0/40', CIM_METRICS_TOKEN: 'short' }, 'controller');
  assert.deepEqual(
    r.check(
      'CIM_WEBHOOK_ALLOWED_NETWORKS',
      () => {
        throw new Error('prefix length');
      },
      ['fallback'],
    ),
    ['fallback'],
  );
  assert.equal(
    r.validate('CIM_METRICS_TOKEN', (t) => (t.length < 24 ? 'too short' : undefined)),
    'short',
  );
  assert.deepEqual(r.problems, ['CIM_WEBHOOK_ALLOWED_NETWORKS: prefix length', 'CIM_METRICS_TOKEN: too short']);
});

test('the cache dir: CIM_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
  assert.equal(new SettingsReader({ CIM_CACHE_DIR: '/x', XDG_CACHE_HOME: '/y' }, 'cli').cacheDir(), '/x');
  assert.equal(new SettingsReader({ XDG_CACHE_HOME: '/y' }, 'worker').cacheDir(), '/y/cim-forge');
  assert.match(new SettingsReader({}, 'cli').cacheDir(), /\.cache\/cim-forge$/);
});

test("README's settings table is the rendered table, and every variable named in apps/*/src and libs/*/src main code is in it", () => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(settingsTable()), 'README.md: replace the settings table with settingsTable() (libs/settings/src/settings.ts)');
  assert.equal(new Set(SETTINGS.map((s) => s.name)).size, SETTINGS.length, 'a variable listed twice');
  // no file other than the settings reader reads process.env (children's environments are built by it too)
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (!['testing', 'generated', 'node_modules'].includes(e.name)) walk(p);
      } else if (/\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) {
        const text = readFileSync(p, 'utf8');
        for (const m of text.matchAll(/process\.env(?:\.([A-Z_]+))?/g)) offenders.push(`${p.slice(root.length + 1)}: ${m[1] ?? '*'}`);
      }
    }
  };
  for (const top of ['apps', 'libs']) for (const d of readdirSync(join(root, top))) walk(join(root, top, d, 'src'));
  // the reader; the variables native libraries read themselves (TensorFlow's, set by the tfjs backend layer; EGL's,
  // set before Dawn opens it, and the Vulkan loader's and EGL's search paths, read to say which driver is missing;
  // libgomp's OMP_WAIT_POLICY, set before the oneDNN addon loads it)
  const allowed = new RegExp(
    [
      String.raw`^libs/settings/src/settings\.ts: \*$`,
      String.raw`^libs/cim/src/backend/backend\.ts: TF_`,
      String.raw`^libs/cim/src/backend/webgpu-adapter\.ts: (EGL_PLATFORM|\*)$`,
      String.raw`^libs/cim/src/resnet/dnnl-conv\.ts: OMP_WAIT_POLICY$`,
    ].join('|'),
  );
  assert.deepEqual(
    offenders.filter((o) => !allowed.test(o)),
    [],
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';

const minimal = { DATABASE_URL: 'postgresql://u@db:5432/cim', S3_BUCKET: 'ckpts' };

test('defaults: Redis on localhost, port 8080 on all interfaces, queue prefix "bull", AWS-style S3', () => {
  const c = loadConfig(minimal);
  assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
  assert.equal(c.port, 8080);
  assert.equal(c.host, '0.0.0.0');
  assert.equal(c.queuePrefix, 'bull');
  assert.equal(c.logLevel, 'info');
  assert.equal(c.adminToken, undefined);
  assert.deepEqual([c.s3.region, c.s3.endpoint, c.s3.forcePathStyle], ['us-east-1', undefined, false]);
  assert.equal(c.s3Bucket, 'ckpts');
});

test('every variable is read', () => {
  const c = loadConfig({
    ...minimal,
    REDIS_URL: 'rediss://r:6380/2',
    S3_ENDPOINT: 'http://minio:9000',
    S3_REGION: 'eu-west-1',
    S3_ACCESS_KEY_ID: 'k',
    S3_SECRET_ACCESS_KEY: 's',
    S3_FORCE_PATH_STYLE: 'true',
    PORT: '9000',
    HOST: '127.0.0.1',
    CIM_ADMIN_TOKEN: 'a'.repeat(32),
    CIM_QUEUE_PREFIX: 'prod',
    LOG_LEVEL: 'debug',
  });
  assert.deepEqual(
    [
      c.redisUrl,
      c.s3.endpoint,
      c.s3.region,
      c.s3.accessKeyId,
      c.s3.secretAccessKey,
      c.s3.forcePathStyle,
      c.port,
      c.host,
      c.adminToken,
      c.queuePrefix,
      c.logLevel,
    ],
    ['rediss://r:6380/2', 'http://minio:9000', 'eu-west-1', 'k', 's', true, 9000, '127.0.0.1', 'a'.repeat(32), 'prod', 'debug'],
  );
});

test('missing and invalid values are all listed, by name', () => {
  assert.throws(
    () => loadConfig({}),
    (err: Error) => {
      assert.match(err.message, /DATABASE_URL is required/);
      assert.match(err.message, /S3_BUCKET is required/);
      return true;
    },
  );
  const bad = {
    DATABASE_URL: 'mysql://x/y',
    S3_BUCKET: 'b',
    REDIS_URL: 'http://r',
    PORT: '80a',
    CIM_ADMIN_TOKEN: 'short',
    LOG_LEVEL: 'loud',
    S3_FORCE_PATH_STYLE: 'yes',
    S3_ACCESS_KEY_ID: 'only-half',
  };
  assert.throws(
    () => loadConfig(bad),
    (err: Error) => {
      const lines = err.message
        .split('\n')
        .slice(1)
        .map((l) => l.trim().split(' ')[1]);
      assert.deepEqual(lines, [
        'DATABASE_URL',
        'REDIS_URL',
        'S3_FORCE_PATH_STYLE',
        'S3_ACCESS_KEY_ID',
        'PORT',
        'CIM_ADMIN_TOKEN',
        'LOG_LEVEL',
      ]);
      return true;
    },
  );
});

test('import caps and the figure-upload cap: defaults, MiB to bytes, and refusals by name', () => {
  const d = loadConfig(minimal);
  assert.deepEqual([d.importLimits, d.figureUploadsPerRun], [{ count: 100, bytes: 100 * 1024 ** 3 }, 10]);
  const c = loadConfig({ ...minimal, CIM_IMPORTS_PER_TEAM: '7', CIM_IMPORT_MIB_PER_TEAM: '3', CIM_FIGURE_UPLOADS_PER_RUN: '2' });
  assert.deepEqual([c.importLimits, c.figureUploadsPerRun], [{ count: 7, bytes: 3 * 2 ** 20 }, 2]);
  assert.throws(
    () => loadConfig({ ...minimal, CIM_IMPORTS_PER_TEAM: '0', CIM_FIGURE_UPLOADS_PER_RUN: 'x' }),
    (err: Error) => /CIM_IMPORTS_PER_TEAM/.test(err.message) && /CIM_FIGURE_UPLOADS_PER_RUN/.test(err.message),
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createS3Client, s3OptionsFromEnv } from './s3-client.ts';

test('s3OptionsFromEnv maps env-style values; path style defaults on with an endpoint', () => {
  assert.deepEqual(
    s3OptionsFromEnv({ S3_ENDPOINT: 'http://127.0.0.1:4569', S3_ACCESS_KEY_ID: 'k', S3_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1' }),
    { endpoint: 'http://127.0.0.1:4569', region: 'eu-west-1', accessKeyId: 'k', secretAccessKey: 's', sessionToken: undefined, forcePathStyle: true, checksums: undefined },
  );
  const aws = s3OptionsFromEnv({ S3_REGION: 'us-west-2' });
  assert.equal(aws.endpoint, undefined);
  assert.equal(aws.forcePathStyle, false);
  assert.equal(s3OptionsFromEnv({ S3_ENDPOINT: 'http://x', S3_FORCE_PATH_STYLE: 'false' }).forcePathStyle, false);
  assert.throws(() => s3OptionsFromEnv({ S3_CHECKSUMS: 'always' }), /S3_CHECKSUMS must be/);
});

test('createS3Client refuses half credentials and sets region, endpoint and path style', async () => {
  assert.throws(() => createS3Client({ region: 'us-east-1', accessKeyId: 'k' }), /both an access key id and a secret/);
  const client = createS3Client({ region: 'eu-central-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, accessKeyId: 'k', secretAccessKey: 's' });
  assert.equal(await client.config.region(), 'eu-central-1');
  assert.equal(client.config.forcePathStyle, true);
  assert.equal((await client.config.endpoint!()).hostname, '127.0.0.1');
  client.destroy();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createS3Client } from './s3-client.ts';

test('createS3Client refuses half credentials and sets region, endpoint and path style', async () => {
  assert.throws(() => createS3Client({ region: 'us-east-1', accessKeyId: 'k' }), /both an access key id and a secret/);
  const client = createS3Client({
    region: 'eu-central-1',
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    accessKeyId: 'k',
    secretAccessKey: 's',
  });
  assert.equal(await client.config.region(), 'eu-central-1');
  assert.equal(client.config.forcePathStyle, true);
  assert.equal((await client.config.endpoint!()).hostname, '127.0.0.1');
  client.destroy();
});

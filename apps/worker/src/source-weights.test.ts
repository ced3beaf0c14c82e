// The worker's read of a source, on s3rver: an import only from the run's own team's import area,
// a run checkpoint only when that run is the same team's (and intact), whatever a row says.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { CheckpointCorruptError, S3CheckpointStore } from '@cim-forge/storage';
import { startS3TestServer, type S3TestServer } from '@cim-forge/storage/testing';
import { RunError } from './run-error.ts';
import { readSourceWeights } from './source-weights.ts';

const TEAM_A = '11111111-1111-4111-8111-111111111111';
const TEAM_B = '22222222-2222-4222-8222-222222222222';
const RUN_A = '33333333-3333-4333-8333-333333333333';
let s3: S3TestServer;
const imported = randomBytes(5000);
const trained = randomBytes(7000);
let importUri: string;
let checkpointUri: string;

before(async () => {
  s3 = await startS3TestServer();
  const key = `imports/${TEAM_A}/u1/vit.safetensors`;
  await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: key, Body: imported }));
  importUri = `s3://${s3.bucket}/${key}`;
  const store = new S3CheckpointStore({ client: s3.client, bucket: s3.bucket, prefix: `runs/${RUN_A}/checkpoints` });
  await store.write('step-00000008', 8, { 'model.safetensors': trained, 'state.json': Buffer.from('{}') });
  checkpointUri = store.uri('step-00000008');
});
after(async () => {
  await s3?.close();
});

const reader = (teamId: string) => ({ client: s3.client, bucket: s3.bucket, teamId });

test("a team reads its own import and its own run's checkpoint", async () => {
  assert.ok(Buffer.from(await readSourceWeights(reader(TEAM_A), { uri: importUri, runId: null, runTeamId: null })).equals(imported));
  const got = await readSourceWeights(reader(TEAM_A), { uri: checkpointUri, runId: RUN_A, runTeamId: TEAM_A });
  assert.ok(Buffer.from(got).equals(trained));
});

test("another team's import or checkpoint is refused as the run's own error, naming nothing of the other team", async () => {
  await assert.rejects(readSourceWeights(reader(TEAM_B), { uri: importUri, runId: null, runTeamId: null }), (e: Error) => {
    assert.ok(e instanceof RunError);
    assert.equal(e.message, `source uri ${importUri} is not in the team's import area s3://${s3.bucket}/imports/${TEAM_B}/`);
    return true;
  });
  const refusal = `source checkpoint ${checkpointUri} is not a checkpoint of the team's runs`;
  await assert.rejects(readSourceWeights(reader(TEAM_B), { uri: checkpointUri, runId: RUN_A, runTeamId: TEAM_A }), { message: refusal });
  // a row that claims the run is B's but whose uri lies in another run's prefix
  const RUN_B = '44444444-4444-4444-8444-444444444444';
  await assert.rejects(readSourceWeights(reader(TEAM_B), { uri: checkpointUri, runId: RUN_B, runTeamId: TEAM_B }), { message: refusal });
  // an imported row outside any import area, or in another bucket
  for (const uri of [
    `s3://${s3.bucket}/runs/${RUN_A}/checkpoints/step-00000008/model.safetensors`,
    `s3://elsewhere/imports/${TEAM_A}/u1/vit.safetensors`,
  ]) {
    await assert.rejects(readSourceWeights(reader(TEAM_A), { uri, runId: null, runTeamId: null }), RunError);
  }
});

test("an import that is gone is the run's error; a corrupted checkpoint fails its sha256", async () => {
  const gone = `s3://${s3.bucket}/imports/${TEAM_A}/u2/gone.safetensors`;
  await assert.rejects(
    readSourceWeights(reader(TEAM_A), { uri: gone, runId: null, runTeamId: null }),
    (e: Error) => e instanceof RunError && e.message === `source uri ${gone} no longer exists`,
  );
  await s3.client.send(
    new PutObjectCommand({ Bucket: s3.bucket, Key: `runs/${RUN_A}/checkpoints/step-00000008/model.safetensors`, Body: randomBytes(7000) }),
  );
  await assert.rejects(readSourceWeights(reader(TEAM_A), { uri: checkpointUri, runId: RUN_A, runTeamId: TEAM_A }), CheckpointCorruptError);
});

// images:check names the image and the step of a failed build: the step comes from BuildKit's log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failedStep } from './build-log.ts';

// the shape of `docker build --progress plain` (BuildKit, Docker 20.10) when a RUN fails
const LOG = `#1 [internal] load build definition from worker.Dockerfile
#1 DONE 0.0s

#12 [build 5/8] RUN npm ci --no-audit --no-fund
#12 DONE 48.1s

#14 [native-registry 2/3] RUN apt-get update  && apt-get install -y --no-install-recommends python3 make g++
#14 0.512 Err:1 http://deb.debian.org/debian bookworm InRelease
#14 ERROR: executor failed running [/bin/sh -c apt-get update ...]: exit code: 100

#15 [prod 3/3] RUN npm ci --omit=dev --ignore-scripts
#15 CANCELED
------
 > [native-registry 2/3] RUN apt-get update ...:
------
error: failed to solve: executor failed running [/bin/sh -c apt-get update ...]: exit code: 100
`;

test('the failing step is the vertex with the ERROR, not a cancelled or earlier one', () => {
  assert.equal(failedStep(LOG), '[native-registry 2/3] RUN apt-get update  && apt-get install -y --no-install-recommends python3 make g++');
});

test('without a vertex error, the "failed to solve" line; nothing when the log has neither', () => {
  assert.equal(
    failedStep('#1 [internal] load metadata for cim-forge/base:x\nerror: failed to solve: cim-forge/base:x: not found\n'),
    'failed to solve: cim-forge/base:x: not found',
  );
  assert.equal(failedStep('#1 [internal] load build definition\n#1 DONE 0.0s\n'), undefined);
});

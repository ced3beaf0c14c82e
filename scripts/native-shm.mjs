#!/usr/bin/env node
// Builds libs/collective's tiny Node-API addon (libs/collective/native/cim_shm.c: mmap of a
// /dev/shm file into a shared ArrayBuffer) with node-gyp against this Node's headers. Run by
// `npm ci` (postinstall); idempotent (skips when the built addon is newer than its source).
// Optional: when it cannot build (no C compiler, no headers), it says so and exits 0, and the
// node-local all-reduce moves its bytes through the same /dev/shm files with pread/pwrite
// instead (libs/collective/src/shm-lane.ts), about half the speed.
//
//   node scripts/native-shm.mjs          # build (a no-op when up to date)
//   node scripts/native-shm.mjs --check  # exit 0 when the addon loads, else 1
import { buildAddon } from './native-addon.mjs';

buildAddon({
  tag: 'native-shm',
  dir: 'libs/collective/native',
  name: 'cim_shm',
  exports: ['map', 'unmap'],
  fallback: 'the node-local all-reduce will use pread/pwrite',
});

#!/usr/bin/env node
// Builds libs/collective's Gloo addon (libs/collective/native/gloo/cim_gloo.cc over Debian's
// libgloo-dev and libhiredis-dev: Gloo is the collective library behind PyTorch's CPU backend)
// with node-gyp against this Node's headers. Run by `npm ci` (postinstall); idempotent (skips when
// the built addon is newer than its source). Optional: when it cannot build (no libgloo-dev, no C++
// compiler, no Node headers), it says so and exits 0, and the gradient all-reduce stays on Redis
// Streams (transport `redis`, the default); `--transport gloo` then refuses with this reason.
//
//   node scripts/native-gloo.mjs          # build (a no-op when up to date)
//   node scripts/native-gloo.mjs --check  # exit 0 when the addon loads, else 1
import { buildAddon } from './native-addon.mjs';

buildAddon({
  tag: 'native-gloo',
  dir: 'libs/collective/native/gloo',
  name: 'cim_gloo',
  source: 'cim_gloo.cc',
  exports: ['connect', 'allReduce', 'broadcast', 'barrier', 'close'],
  fallback: 'the all-reduce stays on Redis Streams (transport redis)',
  needs: {
    files: ['/usr/include/gloo/rendezvous/redis_store.h'],
    hint: "Gloo's headers (Debian: apt-get install libgloo-dev libhiredis-dev)",
  },
});

#!/usr/bin/env node
// Builds libs/cim's oneDNN convolution addon (libs/cim/native/cim_dnnl.c over Debian's libdnnl-dev,
// the oneDNN PyTorch uses on CPU) with node-gyp against this Node's headers. Run by `npm ci`
// (postinstall); idempotent (skips when the built addon is newer than its source). Optional: when
// it cannot build (no libdnnl-dev, no C compiler, no Node headers), it says so and exits 0, and the
// tensorflow backend's convolutions run on libtensorflow's own kernels. Built, it is used by default
// when the tfjs-node binding has the zero-copy bridge (scripts/native-backend.mjs; `bench:train --conv
// tf` compares; docs/benchmarks.md, "Zero-copy oneDNN convolutions").
//
//   node scripts/native-dnnl.mjs          # build (a no-op when up to date)
//   node scripts/native-dnnl.mjs --check  # exit 0 when the addon loads, else 1
import { buildAddon } from './native-addon.mjs';

buildAddon({
  tag: 'native-dnnl',
  dir: 'libs/cim/native',
  name: 'cim_dnnl',
  exports: ['forward', 'backwardData', 'backwardWeights', 'setThreads', 'version'],
  fallback: "convolutions stay on libtensorflow's kernels",
  needs: {
    files: ['/usr/include/dnnl.h', '/usr/include/oneapi/dnnl/dnnl.h'],
    hint: "oneDNN's headers (Debian: apt-get install libdnnl-dev)",
  },
});

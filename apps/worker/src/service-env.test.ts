import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BACKEND_NAMES, WEBGPU_ADAPTERS } from '@cim-forge/settings';
import { BACKEND_CHOICES } from '@cim-forge/cim';
import { webGpuAdapterKinds } from '@cim-forge/cim/config';
import { readServiceEnv, toProcessEnv } from './service-env.ts';

const base = { DATABASE_URL: 'postgresql://u@h/db', S3_BUCKET: 'b', REDIS_URL: 'redis://queue:6379' };

test('the collective: defaults to the queue Redis, no node, wire auto', () => {
  const e = readServiceEnv(base, 'worker');
  assert.deepEqual(e.collectiveRedisUrls, ['redis://queue:6379']);
  assert.equal(e.nodeName, undefined);
  assert.equal(e.collectiveWire, 'auto');
});

test('the collective: K shards, the node, the socket dir, the wire and the transport survive into the rank processes', () => {
  const e = readServiceEnv(
    {
      ...base,
      CIM_COLLECTIVE_REDIS_URLS: 'redis://s0:6379, redis://:pw@s1:6379,',
      NODE_NAME: 'gpu-node-7',
      CIM_COLLECTIVE_SOCKET_DIR: '/var/run/cim',
      CIM_COLLECTIVE_SHM_DIR: '/var/run/cim-shm',
      CIM_COLLECTIVE_WIRE: 'bfloat16',
      CIM_COLLECTIVE_TRANSPORT: 'gloo',
      CIM_GLOO_HOST: '10.1.2.3',
    },
    'worker',
  );
  assert.deepEqual(e.collectiveRedisUrls, ['redis://s0:6379', 'redis://:pw@s1:6379']);
  assert.equal(e.nodeName, 'gpu-node-7');
  assert.equal(e.collectiveTransport, 'gloo');
  assert.equal(e.glooHost, '10.1.2.3');
  assert.equal(e.collectiveShmDir, '/var/run/cim-shm');
  assert.equal(toProcessEnv(e).CIM_COLLECTIVE_SHM_DIR, '/var/run/cim-shm');
  assert.deepEqual(readServiceEnv(toProcessEnv(e), 'worker'), e);
});

test('the collective: the shared-memory directory is absolute or none; unset leaves the default (/dev/shm)', () => {
  assert.equal(readServiceEnv(base, 'worker').collectiveShmDir, undefined);
  assert.equal(readServiceEnv({ ...base, CIM_COLLECTIVE_SHM_DIR: 'none' }, 'worker').collectiveShmDir, 'none');
  assert.equal(toProcessEnv(readServiceEnv({ ...base, CIM_COLLECTIVE_SHM_DIR: 'none' }, 'worker')).CIM_COLLECTIVE_SHM_DIR, 'none');
  assert.throws(
    () => readServiceEnv({ ...base, CIM_COLLECTIVE_SHM_DIR: 'dev/shm' }, 'worker'),
    /CIM_COLLECTIVE_SHM_DIR must be an absolute path \(a tmpfs directory\) or none, got "dev\/shm"/,
  );
});

test('the collective: bad URLs and wires are refused with the variable named (password masked)', () => {
  assert.throws(
    () => readServiceEnv({ ...base, CIM_COLLECTIVE_REDIS_URLS: 'redis://s0:6379,http://:secret@x' }, 'worker'),
    /^Error: CIM_COLLECTIVE_REDIS_URLS must be redis:\/\/ or rediss:\/\/ URLs separated by commas, got "http:\/\/:\*\*\*@x"$/,
  );
  assert.throws(() => readServiceEnv({ ...base, CIM_COLLECTIVE_REDIS_URLS: ' , ' }, 'worker'), /CIM_COLLECTIVE_REDIS_URLS names no URL/);
  assert.throws(
    () => readServiceEnv({ ...base, CIM_COLLECTIVE_WIRE: 'int8' }, 'worker'),
    /CIM_COLLECTIVE_WIRE must be auto, float32, float16, bfloat16; got "int8"/,
  );
  assert.throws(
    () => readServiceEnv({ ...base, CIM_COLLECTIVE_TRANSPORT: 'mpi' }, 'worker'),
    /CIM_COLLECTIVE_TRANSPORT must be one of redis, gloo, got "mpi"/,
  );
});

test('metrics: CIM_METRICS_TOKEN and METRICS_HOST are read and checked; the token never reaches a rank process', () => {
  const open = readServiceEnv(base, 'controller');
  assert.equal(open.metricsToken, undefined);
  assert.equal(open.metricsHost, '0.0.0.0');
  const token = 'm'.repeat(24);
  const e = readServiceEnv({ ...base, CIM_METRICS_TOKEN: token, METRICS_HOST: '10.1.2.3' }, 'worker');
  assert.equal(e.metricsToken, token);
  assert.equal(e.metricsHost, '10.1.2.3');
  const child = toProcessEnv(e);
  assert.equal(child.CIM_METRICS_TOKEN, undefined);
  assert.ok(!Object.values(child).includes(token));
  assert.deepEqual(readServiceEnv(child, 'worker'), { ...e, metricsToken: undefined });
  assert.throws(
    () => readServiceEnv({ ...base, CIM_METRICS_TOKEN: 'm'.repeat(23) }, 'worker'),
    /^Error: CIM_METRICS_TOKEN must be at least 24 characters/,
  );
  assert.throws(
    () => readServiceEnv({ ...base, CIM_METRICS_TOKEN: `${'m'.repeat(24)} x` }, 'worker'),
    /CIM_METRICS_TOKEN may hold only printable ASCII without spaces/,
  );
  assert.throws(
    () => readServiceEnv({ ...base, METRICS_HOST: 'a b' }, 'worker'),
    /METRICS_HOST must be an address or host name, got "a b"/,
  );
});

test("the settings table's backends and WebGPU adapters are the backend layer's; a bad CIM_BACKEND stops the process by name", () => {
  assert.deepEqual([...BACKEND_NAMES], [...BACKEND_CHOICES]);
  assert.deepEqual([...WEBGPU_ADAPTERS], [...webGpuAdapterKinds]);
  assert.throws(
    () => readServiceEnv({ ...base, CIM_BACKEND: 'cuda' }, 'worker'),
    /^Error: CIM_BACKEND must be one of auto, tensorflow, wasm, cpu, webgpu, got "cuda"$/,
  );
  const e = readServiceEnv({ ...base, LOG_LEVEL: 'debug' }, 'worker');
  assert.equal(e.logLevel, 'debug');
  assert.equal(toProcessEnv(e).LOG_LEVEL, 'debug');
  assert.throws(
    () => readServiceEnv({ ...base, LOG_LEVEL: 'loud' }, 'controller'),
    /LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/,
  );
});

test("the cache dir is a worker's setting (libs/data's cache, set at the rank process's start); the controller has none", () => {
  assert.equal(readServiceEnv({ ...base, CIM_CACHE_DIR: '/data/cache' }, 'worker').cacheDir, '/data/cache');
  assert.equal(readServiceEnv({ ...base, XDG_CACHE_HOME: '/xdg' }, 'worker').cacheDir, '/xdg/cim-forge');
  assert.equal(readServiceEnv(base, 'controller').cacheDir, undefined);
});

test('fault injection: off by default; CIM_FAULT_* only with CIM_FAULT_INJECTION=chaos-tests-only, never under NODE_ENV=production', () => {
  assert.deepEqual(readServiceEnv(base, 'worker').faults, {});
  const on = { ...base, CIM_FAULT_INJECTION: 'chaos-tests-only', CIM_FAULT_NON_FINITE_LOSS: 'nan-run@4' };
  const e = readServiceEnv(on, 'worker');
  assert.deepEqual(e.faults, { nonFiniteLoss: { runName: 'nan-run', step: 4 } });
  // the rank processes read it again from their environment
  assert.deepEqual(readServiceEnv(toProcessEnv(e), 'worker').faults, e.faults);
  // a fault without the switch stops the worker at start (never silently ignored)
  assert.throws(
    () => readServiceEnv({ ...base, CIM_FAULT_NON_FINITE_LOSS: 'nan-run@4' }, 'worker'),
    /^Error: CIM_FAULT_NON_FINITE_LOSS set without CIM_FAULT_INJECTION=chaos-tests-only: fault injection is for tests only; unset it$/,
  );
  // a switch that looks on is not on
  for (const v of ['1', 'true', 'on', 'yes'])
    assert.throws(() => readServiceEnv({ ...on, CIM_FAULT_INJECTION: v }, 'worker'), /CIM_FAULT_INJECTION must be off or chaos-tests-only/);
  // a production image (NODE_ENV=production, as every Dockerfile sets it) refuses the switch itself
  assert.throws(
    () => readServiceEnv({ ...on, NODE_ENV: 'production' }, 'worker'),
    /^Error: CIM_FAULT_INJECTION is refused when NODE_ENV is production/,
  );
  assert.throws(
    () => readServiceEnv({ ...on, CIM_FAULT_NON_FINITE_LOSS: 'nan-run' }, 'worker'),
    /CIM_FAULT_NON_FINITE_LOSS must be <run name>@<step ≥ 1>, got "nan-run"/,
  );
  assert.throws(() => readServiceEnv({ ...on, CIM_FAULT_OOM: '1' }, 'worker'), /CIM_FAULT_OOM is not a fault setting/);
  // the controller injects nothing
  assert.deepEqual(readServiceEnv(on, 'controller').faults, {});
});

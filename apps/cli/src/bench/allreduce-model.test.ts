import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commShare, ncclRingSeconds, predictAllReduce, type CostConstants } from './allreduce-model.ts';

const c: CostConstants = {
  opOverheadS: 0.01,
  messageOverheadS: 1e-4,
  shardBytesPerS: 1e9,
  nicBytesPerS: 25e9,
  localLinkBytesPerS: 2e9,
  localSumBytesPerS: 4e9,
  bucketBytes: 4e6,
};
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} vs ${b}`);

test('ViT-B (344 MB) on 64 GPUs, 8 a node, 4 shards, bfloat16: local 3.096 s + cross 1.0868 s + 0.01 s', () => {
  const p = predictAllReduce(344e6, 64, 8, 4, 2, c);
  // local: 2·7·344e6/2e9 + 8·344e6/4e9; cross: 8·172e6·2.75/(4·1e9) + 64·22 entries·1e-4
  close(p.local, 3.096);
  close(p.cross, 0.946 + 0.1408);
  close(p.seconds, 4.1928);
});

test('one node has no cross-node part; one GPU a node has no local part', () => {
  const one = predictAllReduce(344e6, 8, 8, 4, 2, c);
  close(one.cross, 0);
  close(one.seconds, 3.106);
  const flat = predictAllReduce(4e6, 2, 1, 1, 4, c);
  close(flat.local, 0);
  close(flat.seconds, 0.01 + 0.016 + 4e-4);
});

test('the shared-memory node-local step, the leader summing: each follower copies its S in and the mean out in parallel, the leader sums G', () => {
  const shm = predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9, localReduce: 'leader' });
  // 2·344e6/10e9 + 8·344e6/4e9, against 2·7·344e6/2e9 + … through the sockets
  close(shm.local, 0.0688 + 0.688);
  close(shm.seconds, 0.01 + 0.7568);
});

test('the shared-memory reduce-scatter (the default): every rank copies 2·S and sums S of input; the memory bus a floor', () => {
  const rs = predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9 });
  // 2·344e6/10e9 + 344e6/4e9: the sum divided by G = 8
  close(rs.local, 0.0688 + 0.086);
  // a node bus of 20 GB/s: 41·344e6 bytes (8 ranks × 5·S + S) take 0.7052 s, more than the ranks' own
  const bus = predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9, nodeMemoryBytesPerS: 20e9 });
  close(bus.local, (41 * 344e6) / 20e9);
  // and 200 GB/s is not the limit
  close(predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9, nodeMemoryBytesPerS: 200e9 }).local, 0.1548);
});

test('GPU ↔ host copies: 2·S / B_pcie on top, when given; nothing otherwise', () => {
  const without = predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9 });
  const pcie = predictAllReduce(344e6, 8, 8, 4, 2, { ...c, localCopyBytesPerS: 10e9, deviceCopyBytesPerS: 25e9 });
  close(without.device, 0);
  close(pcie.device, 0.02752);
  close(pcie.seconds - without.seconds, 0.02752);
});

test('NCCL ring: 2(N−1)/N·S/busbw; the communication share', () => {
  close(ncclRingSeconds(344e6, 64, 90e9), (((2 * 63) / 64) * 344e6) / 90e9);
  close(commShare(1, 3), 0.25);
});

test('gloo across nodes: the leaders ring 2(M−1)/M·S float32 bytes at B_gloo; one node has no cross-node part', () => {
  const g = { ...c, localCopyBytesPerS: 10e9, localReduce: 'leader' as const, glooBusBytesPerS: 20e9 };
  const p = predictAllReduce(344e6, 64, 8, 16, 2, g, 'gloo');
  close(p.local, 0.0688 + 0.688);
  close(p.cross, (((2 * 7) / 8) * 344e6) / 20e9); // K and the Redis wire do not matter
  close(p.seconds, 0.01 + 0.7568 + 0.0301);
  close(predictAllReduce(344e6, 8, 8, 16, 2, g, 'gloo').cross, 0);
  assert.throws(() => predictAllReduce(344e6, 64, 8, 16, 2, c, 'gloo'), /glooBusBytesPerS/);
});

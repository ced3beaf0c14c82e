import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendLabel } from './backend-label.ts';

test('backendLabel: an explicit choice wins; auto is tensorflow when a native package resolves, else wasm', () => {
  const none = () => {
    throw new Error('not found');
  };
  assert.equal(backendLabel('cpu', none), 'cpu');
  assert.equal(backendLabel('auto', none), 'wasm');
  assert.equal(backendLabel('auto', (p) => (p === '@tensorflow/tfjs-node' ? '/x' : none())), 'tensorflow');
  // this machine: no native tfjs installed
  assert.equal(backendLabel('auto'), 'wasm');
});

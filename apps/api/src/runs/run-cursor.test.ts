import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeRunCursor, encodeRunCursor } from './run-cursor.ts';

test('a cursor round-trips (created_at to the millisecond, id) and is URL-safe', () => {
  const c = { createdAt: new Date('2030-05-06T07:08:09.123Z'), id: '0f8c2a4e-1b2c-4d5e-8f90-123456789abc' };
  const s = encodeRunCursor(c);
  assert.match(s, /^[A-Za-z0-9_-]+$/);
  assert.equal(Buffer.from(s, 'base64url').toString(), '2030-05-06T07:08:09.123Z|0f8c2a4e-1b2c-4d5e-8f90-123456789abc');
  assert.deepEqual(decodeRunCursor(s), c);
});

test('anything else is a 400', () => {
  const bad = [
    '',
    'garbage',
    Buffer.from('2030-05-06T07:08:09.123Z|not-a-uuid').toString('base64url'),
    Buffer.from('yesterday|0f8c2a4e-1b2c-4d5e-8f90-123456789abc').toString('base64url'),
  ];
  for (const s of bad) assert.throws(() => decodeRunCursor(s), { statusCode: 400, message: 'querystring/cursor is not a cursor this API returned' });
});

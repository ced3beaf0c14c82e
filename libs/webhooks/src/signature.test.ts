import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { newWebhookSecret, signatureHeader, signatureProblem, verifyWebhookSignature } from './signature.ts';

// golden value from openssl: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
const GOLDEN = '38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789';

test('signatureHeader is t=<unix>,v1=HMAC-SHA256(secret, "<t>.<body>") in hex (openssl agrees)', () => {
  assert.equal(signatureHeader('whsec_test', 1_700_000_000, '{"a":1}'), `t=1700000000,v1=${GOLDEN}`);
});

test('verify: valid within the window; refused when stale, from the future, tampered, or signed with another secret', () => {
  const body = '{"type":"run.succeeded"}';
  const header = signatureHeader('whsec_k', 1_000_000, body);
  assert.equal(verifyWebhookSignature({ secret: 'whsec_k', body, header, now: 1_000_000 + 300 }), true);
  assert.match(signatureProblem({ secret: 'whsec_k', body, header, now: 1_000_000 + 301 })!, /outside the 300 s window/);
  assert.match(signatureProblem({ secret: 'whsec_k', body, header, now: 1_000_000 - 301 })!, /outside the 300 s window/);
  assert.equal(signatureProblem({ secret: 'whsec_k', body: body + ' ', header, now: 1_000_000 }), 'no v1 signature matches');
  assert.equal(signatureProblem({ secret: 'whsec_other', body, header, now: 1_000_000 }), 'no v1 signature matches');
  assert.equal(signatureProblem({ secret: 'whsec_k', body, header: undefined }), 'no X-CIM-Signature header');
  assert.equal(signatureProblem({ secret: 'whsec_k', body, header: 'v1=abc' }), 'no t=<unix seconds> in the signature header');
  // a moved timestamp invalidates the signature (it is signed)
  const moved = header.replace('t=1000000', 't=1000100');
  assert.equal(signatureProblem({ secret: 'whsec_k', body, header: moved, now: 1_000_100 }), 'no v1 signature matches');
  // several v1 values (secret rotation): one match is enough
  assert.equal(verifyWebhookSignature({ secret: 'whsec_k', body, header: `${header},v1=${'0'.repeat(64)}`, now: 1_000_000 }), true);
});

test('secrets: whsec_ + 43 base64url chars (32 bytes), never repeated', () => {
  const a = newWebhookSecret();
  assert.match(a, /^whsec_[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, newWebhookSecret());
});

test('the Node verification recipe in docs/webhooks.md accepts our signatures and refuses stale, tampered or foreign ones', async () => {
  const md = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(md)![1] + '\nexport { verify };\n';
  const { verify } = (await import(`data:text/javascript,${encodeURIComponent(code)}`)) as {
    verify(s: string, b: string, h: string): boolean;
  };
  const now = Math.floor(Date.now() / 1000);
  const body = '{"type":"run.failed"}';
  assert.deepEqual(
    [
      verify('whsec_a', body, signatureHeader('whsec_a', now, body)),
      verify('whsec_b', body, signatureHeader('whsec_a', now, body)),
      verify('whsec_a', `${body} `, signatureHeader('whsec_a', now, body)),
      verify('whsec_a', body, signatureHeader('whsec_a', now - 400, body)),
      verify('whsec_a', body, `${signatureHeader('whsec_a', now, body)},v1=${'0'.repeat(64)}`),
    ],
    [true, false, false, false, true],
  );
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AddressPolicy, parseAllowedNetworks } from './address-policy.ts';
import { checkWebhookUrl, WebhookUrlError } from './webhook-url.ts';

const BLOCKED = [
  '127.0.0.1',
  '127.8.9.10',
  '10.0.0.1',
  '172.16.0.1',
  '172.31.255.255',
  '192.168.1.1',
  '169.254.169.254',
  '100.64.0.1',
  '0.0.0.0',
  '224.0.0.1',
  '255.255.255.255',
  '::1',
  '::',
  '::7f00:1',
  '::ffff:127.0.0.1',
  '::ffff:a9fe:a9fe',
  '64:ff9b::a9fe:a9fe',
  '2002:7f00:1::1',
  'fd00:ec2::254',
  'fc00::1',
  'fe80::1',
  'ff02::1',
];
const PUBLIC = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];

test('private, loopback, link-local, metadata and IPv4-embedding IPv6 addresses are refused; public ones pass', () => {
  const p = new AddressPolicy();
  const refused = BLOCKED.filter((a) => p.refusal(a) !== undefined);
  assert.deepEqual(refused, BLOCKED);
  const passed = PUBLIC.filter((a) => p.refusal(a) === undefined);
  assert.deepEqual(passed, PUBLIC);
  assert.match(p.refusal('not-an-ip')!, /not an IP address/);
});

test("an admin's allowance opens exactly its networks", () => {
  const p = new AddressPolicy(parseAllowedNetworks('127.0.0.1/32, 10.1.0.0/16'));
  assert.equal(p.refusal('127.0.0.1'), undefined);
  assert.notEqual(p.refusal('127.0.0.2'), undefined);
  assert.equal(p.refusal('10.1.200.3'), undefined);
  assert.notEqual(p.refusal('10.2.0.1'), undefined);
  assert.notEqual(p.refusal('169.254.169.254'), undefined);
  assert.throws(() => parseAllowedNetworks('10.0.0.0/33'), /prefix length must be an integer in \[0, 32\]/);
  assert.throws(() => parseAllowedNetworks('example.com/8'), /not a network in CIDR form/);
});

test('checkWebhookUrl: syntax, then every resolved address (a name with one private address among public ones is refused)', async () => {
  const p = new AddressPolicy();
  const dns = async (h: string) =>
    h === 'mixed.example'
      ? [
          { address: '93.184.216.34', family: 4 },
          { address: '10.0.0.5', family: 4 },
        ]
      : h === 'ok.example'
        ? [{ address: '93.184.216.34', family: 4 }]
        : Promise.reject(Object.assign(new Error('nx'), { code: 'ENOTFOUND' }));
  assert.equal((await checkWebhookUrl('https://ok.example/hook?x=1', p, dns)).href, 'https://ok.example/hook?x=1');
  const refusal = async (url: string) => {
    try {
      await checkWebhookUrl(url, p, dns);
      return 'accepted';
    } catch (e) {
      assert.ok(e instanceof WebhookUrlError);
      return (e as Error).message;
    }
  };
  assert.match(await refusal('https://mixed.example/'), /10\.0\.0\.5 is a private/);
  assert.match(await refusal('http://127.0.0.1:8080/'), /127\.0\.0\.1 is a private/);
  assert.match(await refusal('http://[::1]/'), /::1 is a private/);
  assert.match(await refusal('http://169.254.169.254/latest/meta-data'), /169\.254\.169\.254/);
  assert.match(await refusal('ftp://ok.example/'), /must be http:\/\/ or https:\/\//);
  assert.match(await refusal('file:///etc/passwd'), /must be http:\/\/ or https:\/\//);
  assert.match(await refusal('https://u:p@ok.example/'), /must not carry credentials/);
  assert.match(await refusal('https://nothing.example/'), /does not resolve \(ENOTFOUND\)/);
  assert.match(await refusal('not a url'), /not an absolute URL/);
});

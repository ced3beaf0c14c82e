/**
 * Which IP addresses a webhook may reach. Refused unless an admin allows their network
 * (CIM_WEBHOOK_ALLOWED_NETWORKS): loopback, private (RFC 1918, unique-local), link-local (which
 * holds the cloud metadata service 169.254.169.254 and fd00:ec2::254's neighbours), carrier-grade
 * NAT, "this network", multicast, reserved and documentation ranges, and the IPv6 forms that
 * embed an IPv4 address (mapped, NAT64, 6to4, Teredo), which could smuggle any of the above.
 */
import { BlockList, isIP } from 'node:net';

/** [network, prefix length] */
const BLOCKED_V4: [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];
const BLOCKED_V6: [string, number][] = [
  // (::/96 — unspecified, loopback, IPv4-compatible — is checked in `refusal`: BlockList matches an
  // IPv4 address against IPv6 rules through its mapped form, so ::/96 or ::ffff:0:0/96 here would
  // refuse every IPv4 address. IPv4-mapped addresses are checked by the IPv4 rules the same way.)
  ['64:ff9b::', 96], // NAT64
  ['64:ff9b:1::', 48], // local NAT64
  ['100::', 64], // discard
  ['2001::', 32], // Teredo
  ['2001:db8::', 32], // documentation
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique-local (incl. fd00:ec2::254, the AWS metadata service)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

export class AddressPolicy {
  private readonly blocked = new BlockList();
  private readonly allowed = new BlockList();
  /** the admin's allowance, as given */
  readonly allowedNetworks: readonly string[];

  /** @param allowedNetworks CIDRs an admin lets webhooks reach although they are blocked (e.g. "127.0.0.1/32") */
  constructor(allowedNetworks: readonly string[] = []) {
    for (const [net, prefix] of BLOCKED_V4) this.blocked.addSubnet(net, prefix, 'ipv4');
    for (const [net, prefix] of BLOCKED_V6) this.blocked.addSubnet(net, prefix, 'ipv6');
    for (const cidr of allowedNetworks) {
      const { net, prefix, family } = parseCidr(cidr);
      this.allowed.addSubnet(net, prefix, family);
    }
    this.allowedNetworks = [...allowedNetworks];
  }

  /** why `ip` may not be reached, or undefined when it may */
  refusal(ip: string): string | undefined {
    const family = isIP(ip);
    if (family === 0) return `"${ip}" is not an IP address`;
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (this.allowed.check(ip, type)) return undefined;
    if (this.blocked.check(ip, type) || (family === 6 && isV4CompatibleOrLoopback(ip))) {
      return `${ip} is a private, loopback, link-local or otherwise internal address (an admin may allow its network with CIM_WEBHOOK_ALLOWED_NETWORKS)`;
    }
    return undefined;
  }
}

/** ::/96: ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d */
function isV4CompatibleOrLoopback(ip: string): boolean {
  const normal = new URL(`http://[${ip}]/`).hostname; // "[::7f00:1]"
  return /^\[::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4})?)?\]$/.test(normal);
}

/** "10.0.0.0/8" → parts; a bare address is a /32 or /128 */
export function parseCidr(cidr: string): { net: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const [net, len, extra] = cidr.trim().split('/');
  const v = isIP(net ?? '');
  if (v === 0 || extra !== undefined) throw new Error(`"${cidr}" is not a network in CIDR form (e.g. 10.1.0.0/16 or fd00::/8)`);
  const max = v === 4 ? 32 : 128;
  const prefix = len === undefined ? max : Number(len);
  if (!/^\d+$/.test(len ?? String(max)) || prefix > max) throw new Error(`"${cidr}": the prefix length must be an integer in [0, ${max}]`);
  return { net, prefix, family: v === 4 ? 'ipv4' : 'ipv6' };
}

/** CIM_WEBHOOK_ALLOWED_NETWORKS: comma-separated CIDRs → the list, or throws naming the bad one */
export function parseAllowedNetworks(text: string | undefined): string[] {
  const list = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const c of list) parseCidr(c);
  return list;
}

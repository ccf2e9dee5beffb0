/**
 * IP literal classification for the redirect and token-realm guards (ggcr's checkRedirectSSRF and
 * validateRealmURL; registry-protocol.md §7.3). An address is normalised before it is classified, so that
 * an IPv4 address wrapped in IPv6 (IPv4-mapped `::ffff:127.0.0.2` or `::ffff:7f00:2`, IPv4-compatible
 * `::7f00:2`, NAT64 `64:ff9b::/96` and `64:ff9b:1::/48`, 6to4 `2002::/16`, Teredo `2001::/32`) is judged as
 * the IPv4 address it reaches (issue 13.4). Pure.
 */
import { isIP } from 'node:net';

/** The eight 16-bit groups of an IPv6 literal (brackets and a zone allowed), or undefined. */
export function parseIpv6(text: string): number[] | undefined {
  const literal = text.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (isIP(literal) !== 6) return undefined;
  // A trailing dotted quad (`::ffff:127.0.0.2`) becomes its two groups (`::ffff:7f00:2`).
  const h = literal.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a: string, b: string, c: string, d: string) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const [head = '', rest] = h.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const groups = rest === undefined ? left : [...left, ...Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right];
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}

function v4From(hi: number, lo: number): string {
  return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
}

/**
 * The address a literal reaches, normalised: an IPv4 dotted quad for IPv4 and for IPv6 forms that carry an
 * IPv4 address, otherwise the eight IPv6 groups in lower-case hex. Undefined for a hostname.
 */
export function normalizeIp(hostname: string): string | undefined {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.split('.').map((o) => String(Number.parseInt(o, 10))).join('.');
  const g = parseIpv6(h);
  if (g === undefined) return undefined;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  const zero = (...xs: number[]): boolean => xs.every((x) => x === 0);
  // IPv4-mapped ::ffff:a.b.c.d, and the IPv4-compatible ::a.b.c.d (not :: or ::1).
  if (zero(g0, g1, g2, g3, g4) && g5 === 0xffff) return v4From(g6, g7);
  if (zero(g0, g1, g2, g3, g4, g5) && g6 !== 0) return v4From(g6, g7);
  // NAT64: the well-known prefix 64:ff9b::/96 and the local-use 64:ff9b:1::/48 (RFC 6052, 8215).
  if (g0 === 0x64 && g1 === 0xff9b && zero(g2, g3, g4, g5)) return v4From(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && g2 === 1) return v4From(g6, g7);
  // 6to4 2002:AABB:CCDD::/16 (RFC 3056).
  if (g0 === 0x2002) return v4From(g1, g2);
  // Teredo 2001:0::/32: the client's address is the last 32 bits, inverted (RFC 4380).
  if (g0 === 0x2001 && g1 === 0) return v4From(~g6 & 0xffff, ~g7 & 0xffff);
  return g.map((x) => x.toString(16)).join(':');
}

const privateV4: readonly (readonly [number, number])[] = [
  [0x00000000, 8], // this network, 0.0.0.0
  [0x0a000000, 8], // RFC 1918
  [0x64400000, 10], // carrier-grade NAT
  [0x7f000000, 8], // loopback
  [0xa9fe0000, 16], // link-local (cloud metadata)
  [0xac100000, 12], // RFC 1918
  [0xc0a80000, 16], // RFC 1918
  [0xe0000000, 4], // multicast
  [0xf0000000, 4], // reserved, broadcast
];

/** True for loopback, private, link-local, unspecified or multicast IP literals, in any IPv4-in-IPv6 form. */
export function isPrivateIpLiteral(hostname: string): boolean {
  const n = normalizeIp(hostname);
  if (n === undefined) return false;
  if (isIP(n) === 4) {
    const value = n.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return privateV4.some(([base, bits]) => Math.floor(value / 2 ** (32 - bits)) === Math.floor(base / 2 ** (32 - bits)));
  }
  const first = Number.parseInt(n.split(':')[0] ?? '0', 16);
  return n === '0:0:0:0:0:0:0:1' || n === '0:0:0:0:0:0:0:0' || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80 || (first & 0xffc0) === 0xfec0 || (first & 0xff00) === 0xff00;
}

/**
 * True for loopback literals: 127.0.0.0/8, `::1`, and IPv4-mapped forms of 127.0.0.0/8, which the kernel
 * delivers to the IPv4 loopback (Go's `To4`, hence dockerd, treats them the same). NAT64 and 6to4 forms are
 * not loopback: they leave the host through a gateway.
 */
export function isLoopbackIp(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h.startsWith('127.');
  const g = parseIpv6(h);
  if (g === undefined) return false;
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = g;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0) return (g5 === 0 && g6 === 0 && g7 === 1) || (g5 === 0xffff && g6 >> 8 === 127);
  return false;
}

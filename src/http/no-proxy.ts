/**
 * `NO_PROXY` matching as Go's `golang.org/x/net/http/httpproxy` does it (what dockerd uses for registry
 * traffic): comma-separated entries, case-insensitive; `*` bypasses everything; `host` matches the host and
 * its subdomains, `.host` and `*.host` only subdomains; `host:port` only that port; IP literals and CIDR
 * ranges match IP hosts. Loopback is always bypassed (issue 13.19). Pure.
 */
import { isIP } from 'node:net';
import { isLoopbackIp, normalizeIp, parseIpv6 } from './ip.js';

function inCidr(ip: string, cidr: string): boolean {
  const [base = '', bitsText = ''] = cidr.split('/');
  const bits = Number.parseInt(bitsText, 10);
  const a = normalizeIp(ip);
  const b = normalizeIp(base);
  if (a === undefined || b === undefined || !Number.isInteger(bits)) return false;
  const toBits = (n: string): string => (isIP(n) === 4
    ? n.split('.').map((o) => Number(o).toString(2).padStart(8, '0')).join('')
    : (parseIpv6(n) ?? []).map((g) => g.toString(2).padStart(16, '0')).join(''));
  const x = toBits(a);
  const y = toBits(b);
  return x.length === y.length && x.length > 0 && bits >= 0 && bits <= x.length && x.slice(0, bits) === y.slice(0, bits);
}

/** True when a request to `url` must not go through the proxy. */
export function bypassesProxy(url: URL, noProxy: string | undefined): boolean {
  const host = url.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  if (host === 'localhost' || isLoopbackIp(host)) return true;
  const port = url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port;
  for (const raw of (noProxy ?? '').split(',')) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      if (isIP(host) !== 0 && inCidr(host, entry)) return true;
      continue;
    }
    const m = /^(.*?)(?::(\d+))?$/.exec(entry.startsWith('[') ? entry.replace(/^\[(.*)\](?::(\d+))?$/, (_x, h: string, p?: string) => (p === undefined ? h : `${h}:${p}`)) : entry);
    let name = m?.[1] ?? entry;
    const entryPort = isIP(entry) === 6 ? undefined : m?.[2];
    if (isIP(entry) === 6) name = entry;
    if (entryPort !== undefined && entryPort !== port) continue;
    if (isIP(host) !== 0 || isIP(name) !== 0) {
      if (normalizeIp(name) !== undefined && normalizeIp(name) === normalizeIp(host)) return true;
      continue;
    }
    const bare = name.replace(/^\*?\./, '');
    if (name.startsWith('.') || name.startsWith('*.')) {
      if (host.endsWith(`.${bare}`)) return true;
    } else if (host === bare || host.endsWith(`.${bare}`)) {
      return true;
    }
  }
  return false;
}

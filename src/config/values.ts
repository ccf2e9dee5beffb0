/**
 * Checks of single config values that the schema applies: platforms (containerd's parser, then a known OS,
 * architecture and variant), listen addresses and ports, and registry hosts. Pure.
 */
import { formatPlatformAll, isKnownArchitecture, isKnownOS, normalizePlatform, parsePlatform } from '../platform/platform.js';

/** The forms a `platform:` value may take, for error messages. */
export const validPlatformForms =
  'valid forms: linux/amd64 (or /v2, /v3, /v4), linux/arm64 (or /v8.1 … /v9.7), linux/arm/v7 (or /v5, /v6, /v8), linux/386, ' +
  'linux/ppc64le, linux/s390x, linux/riscv64, windows/amd64; aliases armhf = arm/v7, armel = arm/v6, aarch64 = arm64, x86_64 = amd64';

// Parse fills a one-word specifier from the engine; the daemon does that at run time. For checking and for
// comparing entries, a placeholder engine stands in, so `linux` never equals an explicit `linux/amd64`.
const engine = { os: 'engine-os', architecture: 'engine-arch', cpuVariant: '' };

function suggestion(architecture: string): string {
  const arm = /^arm(?:v|hf)?([5-8])l?$/.exec(architecture);
  if (arm !== null) return ` (did you mean linux/arm/v${arm[1] ?? ''}?)`;
  if (/^(arm64v8|armv8a|aarch64v8|arm64e)$/.test(architecture)) return ' (did you mean linux/arm64?)';
  if (/^(x64|x86|amd64v\d|x8664)$/.test(architecture)) return ' (did you mean linux/amd64 or linux/386?)';
  return '';
}

function variantProblem(architecture: string, variant: string): string | undefined {
  switch (architecture) {
    case 'arm':
      return ['v5', 'v6', 'v7', 'v8'].includes(variant) ? undefined : 'arm variants are v5, v6, v7 and v8';
    case 'arm64':
      return variant === '' || /^v8\.[1-9]$|^v9(?:\.[1-7])?$/.test(variant) ? undefined : 'arm64 variants are v8 (the default), v8.1 … v8.9, v9 and v9.1 … v9.7';
    case 'amd64':
      return ['', 'v2', 'v3', 'v4'].includes(variant) ? undefined : 'amd64 variants are v1 (the default), v2, v3 and v4';
    default:
      return undefined;
  }
}

/** Why a `platform:` value can never match, or undefined when it is usable. */
export function platformProblem(spec: string): string | undefined {
  let parsed;
  try {
    parsed = parsePlatform(spec, engine);
  } catch (error) {
    return `${error instanceof Error ? error.message : String(error)}; ${validPlatformForms}`;
  }
  const p = normalizePlatform(parsed, engine.os);
  if (p.os !== engine.os && !isKnownOS(p.os)) return `unknown operating system "${p.os}" in "${spec}"; ${validPlatformForms}`;
  if (p.architecture !== engine.architecture) {
    if (!isKnownArchitecture(p.architecture)) return `unknown architecture "${p.architecture}" in "${spec}"${suggestion(p.architecture)}; ${validPlatformForms}`;
    const bad = variantProblem(p.architecture, p.variant);
    if (bad !== undefined) return `unknown variant "${p.variant}" in "${spec}": ${bad}`;
  }
  return undefined;
}

/** The platform an entry targets, normalised, for comparing entries (undefined: the engine's). */
export function platformKey(spec: string | undefined): string | undefined {
  if (spec === undefined) return undefined;
  return formatPlatformAll(normalizePlatform(parsePlatform(spec, engine), engine.os));
}

/** True for 127.0.0.0/8, ::1 and `localhost` (any case), as Docker treats them. */
export function isLoopbackHostname(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === '::1') return true;
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(h);
  return m?.slice(1).every((o) => Number(o) <= 255) === true;
}

/** The hostname of `host[:port]` or `[v6]:port`. */
export function hostnameOf(hostPort: string): string {
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(hostPort);
  return v6 === null ? hostPort.replace(/:\d*$/, '') : `[${v6[1] ?? ''}]`;
}

/**
 * Why `host:port` is not a listen address for `metrics.listen`, or undefined. With `loopbackOnly` (no
 * `metrics.token`) it must be on loopback; the message names the key and both fixes.
 */
export function listenProblem(value: string, options: { readonly loopbackOnly: boolean } = { loopbackOnly: true }): string | undefined {
  const m = /^(.*):(\d+)$/.exec(value);
  if (m === null) return `${options.loopbackOnly ? 'a loopback address' : 'an address'} with a port, such as 127.0.0.1:9464 ("${value}" has no port)`;
  const port = portProblem(m[2] ?? '');
  if (port !== undefined) return port;
  const host = m[1] ?? '';
  if (host === '') return `an address with a host, such as 127.0.0.1:9464 or 0.0.0.0:9464 ("${value}" has none)`;
  if (options.loopbackOnly && !isLoopbackHostname(host)) {
    return `a loopback address such as 127.0.0.1:9464, [::1]:9464 or localhost:9464 ("${host}" is not one): without metrics.token the endpoint is served on loopback only; to serve on ${value}, set metrics.token (token: {file: /etc/resolver/api-token} or {credential: NAME}, docs/api.md)`;
  }
  return undefined;
}

/** Why a port is out of range, or undefined. */
export function portProblem(port: string): string | undefined {
  return /^\d{1,5}$/.test(port) && Number(port) <= 65535 ? undefined : `port ${port} is out of range 0-65535`;
}

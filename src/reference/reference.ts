/**
 * Image references, parsed and normalised exactly as distribution/reference's
 * `ParseNormalizedNamed` does (grammar in regexp.go, normalisation in normalize.go;
 * see shared/spec/registry-protocol.md §1). Pure: no IO.
 */
import { ResolverError } from '../errors.js';
import { parseDigest } from './digest.js';

/** A parsed, normalised reference. `domain` is `docker.io` for Docker Hub. */
export interface Reference {
  readonly domain: string;
  /** Repository path, with `library/` for Docker Hub official images. */
  readonly path: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;
}

const alnum = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alnum}(?:${separator}${alnum})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const host = `(?:${domainComponent}(?:\\.${domainComponent})*|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tagPattern = '[\\w][\\w.-]{0,127}';
const digestPattern = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const namePattern = `(?:${domainAndPort}/)?${pathComponent}(?:/${pathComponent})*`;

const referenceRe = new RegExp(`^(${namePattern})(?::(${tagPattern}))?(?:@(${digestPattern}))?$`);
const anchoredNameRe = new RegExp(`^(?:(${domainAndPort})/)?(${pathComponent}(?:/${pathComponent})*)$`);
const anchoredDomainRe = new RegExp(`^${domainAndPort}$`);
const anchoredPathComponentRe = new RegExp(`^${pathComponent}$`);
const anchoredTagRe = new RegExp(`^${tagPattern}$`);
const anchoredIdentifierRe = /^[a-f0-9]{64}$/;

/** True for a valid tag (`[\w][\w.-]{0,127}`, as in distribution/reference). */
export function isValidTag(tag: string): boolean {
  return anchoredTagRe.test(tag);
}

/** Maximum length of the repository path (the domain is not counted). */
export const nameTotalLengthMax = 255;
const defaultDomain = 'docker.io';
const legacyDefaultDomain = 'index.docker.io';
const officialRepoPrefix = 'library/';

function invalid(input: string, reason: string, hint?: string): ResolverError {
  return new ResolverError('ERR_REFERENCE_INVALID', `invalid reference "${input}": ${reason}`, {
    details: [hint ?? 'expected [registry[:port]/]repository[:tag][@sha256:<64 hex>], e.g. alpine:3.20 or localhost:5000/team/app:v1'],
  });
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  if (slash === -1) return { domain: defaultDomain, remainder: officialRepoPrefix + name };
  const maybeDomain = name.slice(0, slash);
  const maybeRemote = name.slice(slash + 1);
  let domain: string;
  let remainder: string;
  if (maybeDomain === 'localhost') [domain, remainder] = [maybeDomain, maybeRemote];
  else if (maybeDomain === legacyDefaultDomain) [domain, remainder] = [defaultDomain, maybeRemote];
  else if (/[.:]/.test(maybeDomain)) [domain, remainder] = [maybeDomain, maybeRemote];
  else if (maybeDomain.toLowerCase() !== maybeDomain) [domain, remainder] = [maybeDomain, maybeRemote];
  else [domain, remainder] = [defaultDomain, name];
  if (domain === defaultDomain && !remainder.includes('/')) remainder = officialRepoPrefix + remainder;
  return { domain, remainder };
}

/** Finds the part of a reference that breaks the grammar, for an error that names it. */
function diagnose(input: string, full: string): ResolverError {
  if (/\s/.test(input)) return invalid(input, 'contains white space');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return invalid(input, 'a reference has no URL scheme', 'drop the "https://" part');
  let rest = full;
  const at = rest.indexOf('@');
  if (at !== -1) {
    const digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!new RegExp(`^${digestPattern}$`).test(digest)) {
      return invalid(input, `digest "${digest}" is malformed`, 'a digest is sha256: followed by 64 lowercase hex digits');
    }
  }
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.indexOf(':', lastSlash + 1);
  if (colon !== -1) {
    const tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!anchoredTagRe.test(tag)) {
      return invalid(input, `tag "${tag}" is invalid`, 'a tag is 1-128 characters of [A-Za-z0-9_.-] and must not start with "." or "-"');
    }
  }
  const parts = rest.split('/');
  const [first, ...others] = parts;
  if (first !== undefined && others.length > 0 && !anchoredDomainRe.test(first)) {
    return invalid(input, `registry host "${first}" is invalid`, 'a host is a DNS name or [IPv6], optionally with :port');
  }
  for (const part of others) {
    if (part === '') return invalid(input, 'empty path component (a leading, trailing or doubled "/")');
    if (!anchoredPathComponentRe.test(part)) {
      return invalid(
        input,
        `path component "${part}" is invalid`,
        'path components are lowercase [a-z0-9] runs joined by ".", "_", "__" or dashes, with no separator at either end',
      );
    }
  }
  return invalid(input, 'invalid reference format');
}

/**
 * What makes a host that the grammar accepts unusable: a port outside 1-65535 or a numeric host that is
 * not an IPv4 address (`300.1.1.1`, `1.2.3`). distribution/reference accepts both and docker fails later
 * at connect time ("invalid port", a DNS lookup of "300.1.1.1"); resolver refuses them up front.
 */
function registryHostProblem(domain: string): string | undefined {
  const portMatch = /:(\d+)$/.exec(domain);
  if (portMatch !== null) {
    const port = Number(portMatch[1]);
    if (!(port >= 1 && port <= 65535)) return `has port ${portMatch[1] ?? ''}, outside 1-65535`;
  }
  const hostname = portMatch === null ? domain : domain.slice(0, portMatch.index);
  // The WHATWG URL parser reads an all-numeric last label as IPv4 (and rejects 300.1.1.1); so does Go's dialer.
  if (/^[0-9.]+$/.test(hostname) || /(?:^|\.)(?:0x[0-9a-f]*|\d+)$/i.test(hostname)) {
    const parts = hostname.split('.');
    if (parts.length !== 4 || parts.some((p) => !/^(?:0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return 'is not a valid IPv4 address';
  }
  return undefined;
}

/**
 * Parses a user-supplied reference like `docker pull` does (ParseNormalizedNamed).
 * @throws ResolverError ERR_REFERENCE_INVALID naming the offending part.
 */
export function parseReference(input: string): Reference {
  if (input === '') throw invalid(input, 'repository name must have at least one component');
  if (anchoredIdentifierRe.test(input)) {
    throw invalid(input, 'cannot specify 64-byte hexadecimal strings as a repository name', 'to pin an image, use name@sha256:<digest>');
  }
  const { domain, remainder } = splitDockerDomain(input);
  const tagSep = remainder.indexOf(':');
  const remote = tagSep === -1 ? remainder : remainder.slice(0, tagSep);
  if (remote.toLowerCase() !== remote) {
    throw invalid(input, `repository name (${remote}) must be lowercase`, 'repository paths are lowercase; only the registry host and the tag may contain uppercase letters');
  }
  const full = `${domain}/${remainder}`;
  const m = referenceRe.exec(full);
  if (m === null) throw diagnose(input, full);
  const name = m[1] ?? '';
  const nameMatch = anchoredNameRe.exec(name);
  if (nameMatch?.[1] !== domain) {
    // The first component looked like a host ("." or ":" or uppercase) but is not a valid one.
    throw invalid(input, `registry host "${domain}" is invalid`, 'a host is a DNS name or [IPv6], optionally with :port');
  }
  const hostProblem = registryHostProblem(domain);
  if (hostProblem !== undefined) throw invalid(input, `registry host "${domain}" ${hostProblem}`, 'a host is a DNS name, an IPv4 address (four numbers 0-255) or [IPv6], optionally with :port (1-65535)');
  const path = nameMatch[2] ?? name;
  if (path.length > nameTotalLengthMax) {
    throw invalid(input, `repository name must not be more than ${nameTotalLengthMax} characters (it is ${path.length})`);
  }
  const digestText = m[3];
  let digest: string | undefined;
  if (digestText !== undefined) {
    const parsed = parseDigest(digestText);
    if (!parsed.ok) throw invalid(input, parsed.reason, 'a digest is sha256: followed by 64 lowercase hex digits');
    digest = digestText;
  }
  return { domain, path, tag: m[2], digest };
}

/** `domain/path` */
export function repositoryName(ref: Reference): string {
  return `${ref.domain}/${ref.path}`;
}

/** Canonical string, e.g. `docker.io/library/redis:7@sha256:…`. */
export function formatReference(ref: Reference): string {
  return `${repositoryName(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** Short form that `docker images` shows: `redis`, `dmcgowan/myapp`, `localhost:5000/x`. */
export function familiarName(ref: Reference): string {
  if (ref.domain !== defaultDomain) return repositoryName(ref);
  const rest = ref.path.slice(officialRepoPrefix.length);
  return ref.path.startsWith(officialRepoPrefix) && !rest.includes('/') ? rest : ref.path;
}

/** Familiar form with tag and digest. */
export function familiarString(ref: Reference): string {
  return `${familiarName(ref)}${ref.tag === undefined ? '' : `:${ref.tag}`}${ref.digest === undefined ? '' : `@${ref.digest}`}`;
}

/** Adds `:latest` when the reference has neither a tag nor a digest (TagNameOnly). */
export function withDefaultTag(ref: Reference): Reference {
  return ref.tag === undefined && ref.digest === undefined ? { ...ref, tag: 'latest' } : ref;
}

/** The host to send API requests to: docker.io → registry-1.docker.io. */
export function registryHost(ref: Reference): string {
  return ref.domain === defaultDomain ? 'registry-1.docker.io' : ref.domain;
}

/** The key docker's config.json uses for this registry's credentials. */
export function credentialKey(ref: Reference): string {
  return ref.domain === defaultDomain ? 'https://index.docker.io/v1/' : ref.domain;
}

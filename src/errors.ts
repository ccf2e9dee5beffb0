/**
 * Errors are classes with a stable `code`; callers branch on `code`, never on message text.
 * Every code maps to a process exit code (documented in README.md §Exit codes).
 */

/** Stable error codes. */
export type ErrorCode =
  | 'ERR_USAGE'
  | 'ERR_REFERENCE_INVALID'
  | 'ERR_PLATFORM_INVALID'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_NO_MATCHING_PLATFORM'
  | 'ERR_NOT_FOUND'
  | 'ERR_REGISTRY_AUTH'
  | 'ERR_RATE_LIMITED'
  | 'ERR_NETWORK'
  | 'ERR_TLS'
  | 'ERR_REGISTRY_HTTP'
  | 'ERR_MANIFEST_INVALID'
  | 'ERR_DIGEST_MISMATCH'
  | 'ERR_UNSUPPORTED_MEDIA_TYPE'
  | 'ERR_CREDENTIALS'
  | 'ERR_ENGINE_UNAVAILABLE'
  | 'ERR_PULL_FAILED'
  | 'ERR_DISK_SPACE'
  | 'ERR_ABORTED'
  | 'ERR_ALREADY_RUNNING'
  | 'ERR_CONTAINER_FAILED'
  | 'ERR_COMMAND_NOT_INVOKABLE'
  | 'ERR_COMMAND_NOT_FOUND';

/** Exit code for each error code. 0 = success, 1 = unexpected failure. */
export const exitCodes: Readonly<Record<ErrorCode, number>> = {
  ERR_USAGE: 2,
  ERR_REFERENCE_INVALID: 2,
  ERR_PLATFORM_INVALID: 2,
  ERR_CONFIG_INVALID: 78,
  ERR_NO_MATCHING_PLATFORM: 3,
  ERR_NOT_FOUND: 4,
  ERR_REGISTRY_AUTH: 5,
  ERR_CREDENTIALS: 5,
  ERR_NETWORK: 6,
  ERR_TLS: 6,
  ERR_RATE_LIMITED: 7,
  ERR_REGISTRY_HTTP: 8,
  ERR_MANIFEST_INVALID: 8,
  ERR_DIGEST_MISMATCH: 8,
  ERR_UNSUPPORTED_MEDIA_TYPE: 8,
  ERR_ENGINE_UNAVAILABLE: 9,
  ERR_PULL_FAILED: 10,
  // The disk preflight: the engine's data root has no room for the child (nothing was pulled).
  ERR_DISK_SPACE: 14,
  ERR_ABORTED: 130,
  ERR_ALREADY_RUNNING: 11,
  // `run`, as `docker run`: the engine refused to create or start the container; the command cannot be
  // invoked (permission denied, a directory); the command does not exist.
  ERR_CONTAINER_FAILED: 125,
  ERR_COMMAND_NOT_INVOKABLE: 126,
  ERR_COMMAND_NOT_FOUND: 127,
};

/** Base class of every error this program throws on purpose. */
export class ResolverError extends Error {
  override name = 'ResolverError';
  readonly code: ErrorCode;
  /** Extra lines shown under the message (hints, available platforms). */
  readonly details: readonly string[];

  constructor(code: ErrorCode, message: string, options?: ErrorOptions & { details?: readonly string[] }) {
    super(message, options);
    this.code = code;
    this.details = options?.details ?? [];
  }
}

/** A registry answered with an error status. URL carries no userinfo or query. */
export class RegistryHttpError extends ResolverError {
  override name = 'RegistryHttpError';
  readonly status: number;
  readonly method: string;
  readonly url: string;
  /** Seconds to wait before retrying, when the registry said so (429/503). */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    fields: { status: number; method: string; url: string; retryAfterSeconds?: number | undefined },
    options?: ErrorOptions & { details?: readonly string[] },
  ) {
    super(code, message, options);
    this.status = fields.status;
    this.method = fields.method;
    this.url = fields.url;
    this.retryAfterSeconds = fields.retryAfterSeconds;
  }
}

/** No child of the index fits the target platform. */
export class NoMatchingPlatformError extends ResolverError {
  override name = 'NoMatchingPlatformError';
  readonly available: readonly string[];

  constructor(message: string, available: readonly string[]) {
    super('ERR_NO_MATCHING_PLATFORM', message, {
      details: [available.length > 0 ? `available platforms: ${available.join(', ')}` : 'the index lists no platforms'],
    });
    this.available = available;
  }
}

/** The engine's data root has no room for a child (disk preflight); nothing was pulled. */
export class DiskSpaceError extends ResolverError {
  override name = 'DiskSpaceError';
  /** Bytes the pull would add, free bytes, the watermark, and the path whose file system was read. */
  readonly needed: number;
  readonly free: number;
  readonly minFree: number;
  readonly path: string;

  constructor(message: string, fields: { needed: number; free: number; minFree: number; path: string }, details: readonly string[]) {
    super('ERR_DISK_SPACE', message, { details });
    this.needed = fields.needed;
    this.free = fields.free;
    this.minFree = fields.minFree;
    this.path = fields.path;
  }
}

/** Exit code for any thrown value. */
export function exitCodeOf(error: unknown): number {
  return error instanceof ResolverError ? exitCodes[error.code] : 1;
}

/** Removes userinfo, query and fragment from a URL so it can be shown or logged. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return '<invalid url>';
  }
}

/**
 * Registry credentials as the docker CLI finds them (shared/spec/registry-protocol.md §4):
 * `DOCKER_AUTH_CONFIG`, then `$DOCKER_CONFIG/config.json` (`credHelpers[key]`, else `credsStore`,
 * else `auths` with the legacy hostname match), and the `docker-credential-*` helper protocol.
 * Secrets are held in `Secret`; helper output is never echoed in errors.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { describeFirstIssue, parseJson } from '../json/parse-json.js';
import { Secret } from '../secret/secret.js';
import { PromiseMemo } from '../memo/promise-memo.js';

/** What a registry login has. */
export interface Credentials {
  readonly username: string;
  readonly password: Secret | undefined;
  /** OAuth2 refresh token ("identity token"). */
  readonly identityToken: Secret | undefined;
  /** A bearer token sent to the registry as is. */
  readonly registryToken: Secret | undefined;
  /** Where they came from, for messages (never the secret). */
  readonly source: string;
}

/** Looks credentials up by config key (`https://index.docker.io/v1/` or `host[:port]`). */
export interface CredentialStore {
  get(key: string, signal?: AbortSignal): Promise<Credentials | undefined>;
}

const AuthEntry = z.object({
  auth: z.string().optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  identitytoken: z.string().optional(),
  registrytoken: z.string().optional(),
  email: z.string().optional(),
  serveraddress: z.string().optional(),
});

/** The parts of docker's config.json that concern registry auth. */
export const DockerConfigFile = z.object({
  auths: z.record(z.string(), AuthEntry).optional(),
  credsStore: z.string().optional(),
  credHelpers: z.record(z.string(), z.string()).optional(),
});
export type DockerConfigFile = z.infer<typeof DockerConfigFile>;

const EnvAuthConfig = z.strictObject({ auths: z.record(z.string(), z.strictObject({ auth: z.string() })) });

const HelperOutput = z.object({ ServerURL: z.string().optional(), Username: z.string(), Secret: z.string() });

/** Runs `docker-credential-<suffix> get`. Replaceable in tests. */
export type HelperRunner = (suffix: string, serverUrl: string, signal?: AbortSignal) => Promise<{ username: string; secret: string } | undefined>;

function decodeAuth(auth: string, where: string): { username: string; password: string } {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) throw new ResolverError('ERR_CREDENTIALS', `${where}: "auth" is not base64 of username:password`);
  return { username: text.slice(0, colon), password: text.slice(colon + 1).replace(/\0+$/, '') };
}

/** `ConvertToHostname`: strips scheme and path from a legacy key. */
export function convertToHostname(key: string): string {
  return key.replace(/^https?:\/\//, '').split('/')[0] ?? key;
}

function fromEntry(entry: z.infer<typeof AuthEntry>, source: string): Credentials {
  let username = entry.username ?? '';
  let password = entry.password ?? '';
  if (entry.auth !== undefined && entry.auth !== '') ({ username, password } = decodeAuth(entry.auth, source));
  return {
    username,
    password: password === '' ? undefined : new Secret(password),
    identityToken: entry.identitytoken ? new Secret(entry.identitytoken) : undefined,
    registryToken: entry.registrytoken ? new Secret(entry.registrytoken) : undefined,
    source,
  };
}

const helperSuffixRe = /^[A-Za-z0-9._-]+$/;

/** The real helper runner: no shell, a timeout, stdout capped at 64 KiB. */
export function spawnHelper(options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): HelperRunner {
  return async (suffix, serverUrl, signal) => {
    if (!helperSuffixRe.test(suffix)) throw new ResolverError('ERR_CREDENTIALS', `credential helper name "${suffix}" is invalid`);
    // Loaded on first use: most runs use no helper, and child_process costs every start (bench/README.md).
    const { spawn } = await import('node:child_process');
    return new Promise((resolve, reject) => {
      const name = `docker-credential-${suffix}`;
      const child = spawn(name, ['get'], { shell: false, stdio: ['pipe', 'pipe', 'inherit'], env: options.env, signal });
      const chunks: Buffer[] = [];
      let size = 0;
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 10_000);
      child.stdout.on('data', (c: Buffer) => {
        size += c.byteLength;
        if (size > 65_536) child.kill('SIGKILL');
        else chunks.push(c);
      });
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(new ResolverError('ERR_CREDENTIALS', `credential helper ${name} could not run: ${(error as NodeJS.ErrnoException).code ?? error.message}`, {
          details: [`install ${name} or remove "${suffix}" from credsStore/credHelpers in config.json`],
        }));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        const out = Buffer.concat(chunks).toString('utf8').trim();
        if (code === 0) {
          const parsed = parseJson(HelperOutput, out);
          if (!parsed.success) reject(new ResolverError('ERR_CREDENTIALS', `credential helper ${name} printed something that is not {"Username","Secret"} JSON`));
          else resolve({ username: parsed.data.Username, secret: parsed.data.Secret });
          return;
        }
        if (out === 'credentials not found in native keychain') {
          resolve(undefined);
          return;
        }
        const why = sig === 'SIGKILL' ? 'timed out or printed too much' : `exited with status ${code ?? sig}`;
        reject(new ResolverError('ERR_CREDENTIALS', `credential helper ${name} failed for ${serverUrl}: it ${why}`));
      });
      child.stdin.end(serverUrl);
    });
  };
}

/** Options for the docker-config credential store. */
export interface DockerCredentialOptions {
  /** `$DOCKER_CONFIG`, else `~/.docker`. */
  readonly configDir: string;
  /** `DOCKER_AUTH_CONFIG` (docker CLI 28.3+), if set. */
  readonly envAuthConfig?: string | undefined;
  readonly runHelper: HelperRunner;
}

/** Credentials from docker's configuration, read once per process. */
export function dockerCredentialStore(options: DockerCredentialOptions): CredentialStore {
  const path = join(options.configDir, 'config.json');
  // Read once per process; a failed read (a file caught mid-write) is tried again next time.
  const loaded = new PromiseMemo<string, DockerConfigFile>();
  const load = async (): Promise<DockerConfigFile> => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new ResolverError('ERR_CREDENTIALS', `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const parsed = parseJson(DockerConfigFile, text);
    if (parsed.success) return parsed.data;
    if (parsed.reason === 'syntax') throw new ResolverError('ERR_CREDENTIALS', `${path} is not valid JSON`, { details: ['fix the file or point DOCKER_CONFIG at another folder'] });
    throw new ResolverError('ERR_CREDENTIALS', `${path} has an unexpected shape: ${describeFirstIssue(parsed.issues, 'the top level') ?? 'invalid'}`);
  };

  let envAuths: Record<string, { auth: string }> | undefined;
  if (options.envAuthConfig !== undefined && options.envAuthConfig !== '') {
    const parsed = parseJson(EnvAuthConfig, options.envAuthConfig);
    if (!parsed.success) throw new ResolverError('ERR_CREDENTIALS', 'DOCKER_AUTH_CONFIG is not {"auths":{"<host>":{"auth":"<base64 user:password>"}}}');
    envAuths = parsed.data.auths;
  }

  return {
    async get(key, signal) {
      const fromEnv = envAuths?.[key] ?? Object.entries(envAuths ?? {}).find(([k]) => convertToHostname(k) === convertToHostname(key))?.[1];
      if (fromEnv !== undefined) return fromEntry(fromEnv, 'DOCKER_AUTH_CONFIG');
      const config = await loaded.get(path, load);
      const helper = config.credHelpers?.[key] ?? config.credsStore;
      const fileEntry = config.auths?.[key] ?? Object.entries(config.auths ?? {}).find(([k]) => convertToHostname(k) === convertToHostname(key))?.[1];
      if (helper !== undefined && helper !== '') {
        const got = await options.runHelper(helper, key, signal);
        if (got !== undefined) {
          const source = `credential helper docker-credential-${helper}`;
          if (got.username === '<token>') {
            return { username: '', password: undefined, identityToken: new Secret(got.secret), registryToken: undefined, source };
          }
          return { username: got.username, password: new Secret(got.secret), identityToken: undefined, registryToken: undefined, source };
        }
      }
      return fileEntry === undefined ? undefined : fromEntry(fileEntry, path);
    },
  };
}

/** A store with no credentials (anonymous). */
export const anonymousStore: CredentialStore = { get: () => Promise.resolve(undefined) };

/**
 * The Engine over the one HTTP stack (undici, engine-connection.ts), at the API version negotiated from
 * `/version`: the image half (pull, tag, inspect, list, remove), the container listing, inspect and events, and
 * (http-runner.ts) the container-running half `resolver run` uses. One HTTP stack for the registry and the engine:
 * dockerode (node:http under docker-modem) loads only for activation's container operations
 * (dockerode-container-ops.ts). Answers are read with zod; a lost engine is ERR_ENGINE_UNAVAILABLE, the engine's
 * refusal of an image operation ERR_PULL_FAILED with its message (sanitised), as the dockerode client worded them.
 */
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import type { HttpRequest, HttpResponse } from '../http/http.js';
import { parseJson } from '../json/parse-json.js';
import { linkAbort } from '../limit/abort.js';
import { negotiateApiVersion } from './api-version.js';
import type { ContainerDetails, ContainerEngine, ContainerEvent, ContainerSummary } from './containers.js';
import type { EngineEndpoint } from './docker-host.js';
import { answeredOk, engineMessage, pathSegment as segment } from './engine-connection.js';
import type { Engine, ImageEngine, ImageInfo, PullRequest } from './engine.js';
import { encodeRegistryAuth } from './engine.js';
import type { EngineProbe } from './engine-probe.js';
import { createHttpRunner } from './http-runner.js';
import { foldProgress, initialPullState, LineSplitter, parseProgressLine, streamVerdict, type PullState } from './pull-progress.js';

const Strings = z.array(z.string()).nullish().transform((v) => v ?? []);
const Labels = z.record(z.string(), z.unknown()).nullish().catch(undefined).transform((v) =>
  Object.fromEntries(Object.entries(v ?? {}).filter((e): e is [string, string] => typeof e[1] === 'string')));
const ImageInspectAnswer = z.object({
  Id: z.string(), RepoTags: Strings, RepoDigests: Strings, Os: z.string(), Architecture: z.string(),
  Variant: z.string().nullish(), RootFS: z.object({ Layers: Strings }).nullish(),
});
const ImageListAnswer = z.array(z.object({ Id: z.string(), RepoTags: Strings, RepoDigests: Strings }));
const ContainerListAnswer = z.array(z.object({ Id: z.string(), Names: Strings, ImageID: z.string(), Labels, State: z.string().nullish() }));
const ContainerInspectAnswer = z.object({
  Id: z.string(), Name: z.string().nullish(), Image: z.string(),
  Config: z.object({ Image: z.string().nullish(), Labels }).nullish(), State: z.object({ Status: z.string().nullish() }).nullish(),
});

/** A string field of an event line; any other value counts as absent. */
const Text = z.string().optional().catch(undefined);
/** A line of `GET /events` (API >= 1.22 `Type`/`Action`/`Actor.ID`, older `status`/`id`). */
const EventLine = z.object({ Type: z.unknown(), Action: Text, status: Text, id: Text, Actor: z.object({ ID: Text }).nullish().catch(undefined) });

/** One line of the events stream as a container event, or undefined for anything else (not JSON included). */
export function parseContainerEvent(line: string): ContainerEvent | undefined {
  const parsed = parseJson(EventLine, line);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  if (e.Type !== undefined && e.Type !== 'container') return undefined;
  const action = e.Action ?? e.status;
  const id = e.Actor?.ID ?? e.id;
  return action === undefined || id === undefined ? undefined : { action, id };
}

/** True when undici's headers timeout is somewhere in the causes of `error`. */
function headersTimedOut(error: unknown): boolean {
  for (let e: unknown = error, i = 0; i < 5 && typeof e === 'object' && e !== null; i++, e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === 'UND_ERR_HEADERS_TIMEOUT') return true;
  }
  return false;
}

/** One engine request. */
export interface Call {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Below the version prefix, e.g. `/images/create`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly headers?: Readonly<Record<string, string>>;
  /** A JSON body, as text (send `content-type` with it). */
  readonly body?: string;
  readonly signal?: AbortSignal | undefined;
  /** What the request does, for messages: `pull of app@sha256:…`. */
  readonly what: string;
  readonly deadlineMs?: number;
  readonly headersTimeoutMs?: number;
  readonly bodyTimeoutMs?: number;
  readonly maxBytes?: number;
  readonly receive?: HttpRequest['receive'];
}

/** The longest wait for an ordinary answer: the engine may be busy (a containerd store listing, a big delete). */
const answerMs = 120_000;

/** The requests of one engine connection, for the container-running half (http-runner.ts). */
export interface EngineCalls {
  /** The endpoint, for messages. */
  readonly where: string;
  /** Sends `c`; any status comes back; a transport failure is the engine's (ERR_ENGINE_UNAVAILABLE or ERR_ABORTED). */
  send(c: Call): Promise<HttpResponse>;
  /**
   * Sends `c` and resolves with its body as it arrives once the engine answered 2xx (the stream ends when the
   * engine closes it or `c.signal` aborts); another answer rejects with `refuse(response)`.
   */
  open(c: Call, refuse: (res: HttpResponse) => ResolverError): Promise<AsyncIterable<Buffer>>;
  /** Sends `c` upgraded to `protocol` and hands over the connection after the engine's `101`. */
  upgrade(c: Call, protocol: string): Promise<Duplex>;
}

/** Connects to the engine (negotiating the API version) and returns the Engine. */
export async function createHttpEngine(endpoint: EngineEndpoint, probe: EngineProbe, signal?: AbortSignal): Promise<Engine> {
  const facts = await probe.facts(signal);
  const prefix = `/v${negotiateApiVersion(facts.apiVersion)}`;
  const where = endpoint.display;
  const { http, base, insecureTls } = probe.connection();

  /** The URL of `c`: the version prefix, the path, the query. */
  function urlOf(c: Call): URL {
    const url = new URL(`${prefix}${c.path}`, base);
    for (const [k, v] of Object.entries(c.query ?? {})) url.searchParams.set(k, v);
    return url;
  }

  /** A transport failure of `c` as the engine's: cancelled, or the engine lost; other errors pass. */
  function transportFailure(error: unknown, c: Call): unknown {
    if (!(error instanceof ResolverError) || error.code === 'ERR_MANIFEST_INVALID') return error;
    if (error.code === 'ERR_ABORTED' || c.signal?.aborted === true) return new ResolverError('ERR_ABORTED', `${c.what} was cancelled`, { cause: error });
    if (error.code === 'ERR_NETWORK' || error.code === 'ERR_TLS') {
      return new ResolverError('ERR_ENGINE_UNAVAILABLE', `lost the Docker Engine at ${where} during ${c.what} (${error.message})`, { cause: error });
    }
    return error;
  }

  /** Sends `c`; any status comes back, a transport failure is the engine's (lost, or cancelled). */
  async function send(c: Call): Promise<HttpResponse> {
    const url = urlOf(c);
    try {
      return await http.send({
        method: c.method, url, headers: c.headers, signal: c.signal, ...(c.body === undefined ? {} : { body: c.body }), deadlineMs: c.deadlineMs ?? answerMs, maxBytes: c.maxBytes ?? 64 << 20,
        followRedirects: false, insecureTls, headersTimeoutMs: c.headersTimeoutMs ?? answerMs, bodyTimeoutMs: c.bodyTimeoutMs ?? answerMs,
        ...(c.receive === undefined ? {} : { receive: c.receive }),
      });
    } catch (error) {
      throw transportFailure(error, c);
    }
  }

  /** The engine's refusal of `what` (status and message), worded as before: `<what> failed: <message>`. */
  function refusal(res: HttpResponse, what: string): ResolverError {
    return new ResolverError('ERR_PULL_FAILED', `${what} failed: ${engineMessage(res)}`, { details: [`the engine answered HTTP ${res.status}`] });
  }

  /** A 2xx answer read with `schema`; another shape is the engine's fault, named. */
  function answer<S extends z.ZodType>(res: HttpResponse, schema: S, what: string): z.output<S> {
    const parsed = parseJson(schema, res.body.toString('utf8'));
    if (parsed.success) return parsed.data;
    throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${where} sent ${parsed.reason === 'syntax' ? 'invalid JSON' : 'an answer of an unexpected shape'} for ${what}`);
  }

  async function inspectImage(name: string): Promise<ImageInfo | undefined> {
    const what = `inspecting ${name}`;
    const res = await send({ method: 'GET', path: `/images/${segment(name)}/json`, what });
    if (res.status === 404) return undefined;
    if (!answeredOk(res)) throw refusal(res, what);
    const i = answer(res, ImageInspectAnswer, what);
    return { id: i.Id, repoTags: i.RepoTags, repoDigests: i.RepoDigests, os: i.Os, architecture: i.Architecture, variant: i.Variant ?? '', layers: i.RootFS?.Layers ?? [] };
  }

  async function listContainers(signal?: AbortSignal): Promise<readonly ContainerSummary[]> {
    const what = 'listing containers';
    const res = await send({ method: 'GET', path: '/containers/json', query: { all: 'true' }, signal, what });
    if (!answeredOk(res)) throw refusal(res, what);
    return answer(res, ContainerListAnswer, what).map((c) => ({ id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), imageId: c.ImageID, labels: c.Labels, state: c.State ?? '' }));
  }

  async function pull(req: PullRequest): Promise<PullState> {
    const what = `pull of ${req.repository}@${req.digest}`;
    const stallMs = req.stallTimeoutMs ?? 300_000;
    const watchdog = new AbortController();
    const unlink = linkAbort(req.signal, watchdog);
    const stall = (): void => watchdog.abort(new ResolverError('ERR_PULL_FAILED', `${what} made no progress for ${stallMs / 1000} s`));
    const timer = setTimeout(stall, stallMs);
    let state = initialPullState;
    const feed = (lines: readonly string[]): void => {
      for (const line of lines) {
        const parsed = parseProgressLine(line);
        if (parsed.kind === 'malformed') throw new ResolverError('ERR_PULL_FAILED', `the engine sent a malformed progress line (${parsed.reason})`);
        state = foldProgress(state, parsed.message);
        if (state.error !== undefined) throw new ResolverError('ERR_PULL_FAILED', `${what} failed: ${state.error}`);
      }
      req.onProgress?.(state);
    };
    try {
      const res = await send({
        method: 'POST', path: '/images/create', query: { fromImage: req.repository, tag: req.digest },
        headers: req.auth === undefined ? {} : { 'x-registry-auth': encodeRegistryAuth(req.auth) },
        signal: watchdog.signal, what,
        // The engine answers once it found the image; then the stall watchdog, not a deadline, bounds the stream.
        deadlineMs: Number.POSITIVE_INFINITY, headersTimeoutMs: stallMs, bodyTimeoutMs: 0, maxBytes: Number.MAX_SAFE_INTEGER,
        receive: async (chunks) => {
          const splitter = new LineSplitter();
          for await (const chunk of chunks) {
            timer.refresh();
            feed(splitter.push(chunk));
          }
          feed(splitter.end());
        },
      });
      if (!answeredOk(res)) throw refusal(res, what);
    } catch (error) {
      const reason: unknown = watchdog.signal.reason;
      if (watchdog.signal.aborted && reason instanceof ResolverError && req.signal?.aborted !== true) throw reason;
      throw error;
    } finally {
      clearTimeout(timer);
      unlink();
    }
    if (streamVerdict(state) === 'complete') return state;
    // No final status but no error either: Podman's stream always ends so. The engine decides.
    const image = await inspectImage(`${req.repository}@${req.digest}`).catch((error: unknown) => {
      throw error instanceof ResolverError && error.code === 'ERR_PULL_FAILED'
        ? new ResolverError('ERR_PULL_FAILED', `${what}: inspecting the image after it failed: ${error.message}`, { cause: error })
        : error;
    });
    if (image?.repoDigests.some((d) => d.endsWith(`@${req.digest}`)) === true) return { ...state, verifiedBy: 'inspect' };
    throw new ResolverError('ERR_PULL_FAILED', `${what} ended without the engine's final status, and the engine does not have the image (connection lost or engine restarted?)`);
  }

  const images: ImageEngine = {
    facts: () => Promise.resolve(facts),
    pull,
    async tag(source, repository, tag) {
      const what = `tagging ${source} as ${repository}:${tag}`;
      const res = await send({ method: 'POST', path: `/images/${segment(source)}/tag`, query: { repo: repository, tag }, what });
      if (!answeredOk(res)) throw refusal(res, what);
    },
    inspectImage,
    async listImages() {
      const what = 'listing images';
      const res = await send({ method: 'GET', path: '/images/json', what });
      if (!answeredOk(res)) throw refusal(res, what);
      return answer(res, ImageListAnswer, what).map((i) => ({ id: i.Id, repoTags: i.RepoTags, repoDigests: i.RepoDigests, os: '', architecture: '', variant: '' }));
    },
    async imagesInUse() {
      return new Set((await listContainers()).map((c) => c.imageId));
    },
    async removeImage(name) {
      const what = `removing image ${name}`;
      const res = await send({ method: 'DELETE', path: `/images/${segment(name)}`, query: { noprune: 'false' }, what, deadlineMs: 300_000, headersTimeoutMs: 300_000 });
      if (res.status === 404) return;
      if (!answeredOk(res)) throw refusal(res, what);
    },
  };

  const containers: ContainerEngine = {
    listContainers,
    async inspectContainer(id, signal): Promise<ContainerDetails | undefined> {
      const what = `inspecting container ${id.slice(0, 12)}`;
      const res = await send({ method: 'GET', path: `/containers/${segment(id)}/json`, signal, what });
      if (res.status === 404) return undefined;
      if (!answeredOk(res)) throw refusal(res, what);
      const c = answer(res, ContainerInspectAnswer, what);
      return { id: c.Id, name: (c.Name ?? c.Id).replace(/^\//, ''), imageId: c.Image, image: c.Config?.Image ?? '', labels: c.Config?.Labels ?? {}, state: c.State?.Status ?? '' };
    },
    containerEvents: (signal, o = {}) => openEvents(signal, o.connectTimeoutMs ?? 10_000),
  };

  /** See EngineCalls.open. */
  function open(c: Call, refuse: (res: HttpResponse) => ResolverError): Promise<AsyncIterable<Buffer>> {
    if (c.signal?.aborted === true) return Promise.reject(new ResolverError('ERR_ABORTED', `${c.what} was cancelled`));
    return new Promise((resolve, reject) => {
      let done: () => void = () => undefined;
      const consumed = new Promise<void>((r) => (done = r));
      let opened = false;
      send({
        deadlineMs: Number.POSITIVE_INFINITY, bodyTimeoutMs: 0, maxBytes: Number.MAX_SAFE_INTEGER, ...c,
        // The body is handed to the consumer; this returns (and the body is closed) once it stopped reading.
        receive: async (chunks) => {
          opened = true;
          resolve((async function* body(): AsyncGenerator<Buffer> {
            try {
              yield* chunks;
            } finally {
              done();
            }
          })());
          await consumed;
        },
      }).then((res) => {
        if (!opened) reject(answeredOk(res) ? new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${where} ended ${c.what} at once`) : refuse(res));
      }, (error: unknown) => {
        if (!opened) reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
  }

  /**
   * `GET /events` for containers: resolves once the engine sent its headers (within `connectMs`); the stream
   * then lives as long as the engine keeps it open or `signal` is not aborted.
   */
  async function openEvents(signal: AbortSignal, connectMs: number): Promise<AsyncIterable<ContainerEvent>> {
    const what = 'the events stream';
    let chunks: AsyncIterable<Buffer>;
    try {
      chunks = await open({ method: 'GET', path: '/events', query: { filters: JSON.stringify({ type: ['container'] }) }, signal, what, headersTimeoutMs: connectMs }, (res) => refusal(res, `opening ${what}`));
    } catch (error) {
      if (!headersTimedOut(error)) throw error;
      throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `the Docker Engine at ${where} did not answer GET /events within ${connectMs / 1000} s`, { cause: error });
    }
    return (async function* lines(): AsyncGenerator<ContainerEvent> {
      const splitter = new LineSplitter();
      try {
        for await (const chunk of chunks) {
          for (const line of splitter.push(chunk)) {
            const event = parseContainerEvent(line);
            if (event !== undefined) yield event;
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        throw new ResolverError('ERR_ENGINE_UNAVAILABLE', `lost the Docker Engine at ${where} while reading ${what}`, { cause: error });
      }
    })();
  }

  /** See EngineCalls.upgrade. */
  async function upgrade(c: Call, protocol: string): Promise<Duplex> {
    try {
      return await http.upgrade({ method: c.method === 'GET' ? 'GET' : 'POST', url: urlOf(c), headers: c.headers, protocol, signal: c.signal, deadlineMs: c.deadlineMs ?? answerMs, insecureTls });
    } catch (error) {
      throw transportFailure(error, c);
    }
  }

  return {
    ...images,
    ...containers,
    ...createHttpRunner({ where, send, open, upgrade }),
    close: () => probe.close(),
  };
}

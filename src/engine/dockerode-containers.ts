/**
 * The container listing, container inspect and container events of the Engine API over dockerode, for
 * dockerode-engine.ts. Podman's compat API answers the same paths with the same fields (Podman 4.3 was
 * tested: test/e2e/discovery-podman.test.ts).
 */
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { linkAbort } from '../limit/abort.js';
import { withDeadline } from '../limit/deadline.js';
import type { ContainerDetails, ContainerEngine, ContainerEvent, ContainerSummary } from './containers.js';
import { LineSplitter } from './pull-progress.js';

interface ErrorLike {
  statusCode?: number;
}

type EngineError = (error: unknown, what: string, endpoint: string) => ResolverError;

function labelsOf(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

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

/** The container operations over `docker` (an engine at `where`). */
export function dockerodeContainers(docker: Dockerode, where: string, engineError: EngineError): ContainerEngine {
  return {
    async listContainers(signal) {
      try {
        const list = await docker.listContainers({ all: true, ...(signal === undefined ? {} : { abortSignal: signal }) });
        return list.map((c): ContainerSummary => ({
          id: c.Id, name: (c.Names[0] ?? c.Id).replace(/^\//, ''), imageId: c.ImageID, labels: labelsOf(c.Labels), state: c.State,
        }));
      } catch (error) {
        throw engineError(error, 'listing containers', where);
      }
    },

    async inspectContainer(id, signal) {
      try {
        const c: { Id: string; Name?: string; Image: string; Config?: { Image?: string; Labels?: unknown } | null; State?: { Status?: string } | null } =
          await docker.getContainer(id).inspect(signal === undefined ? {} : { abortSignal: signal });
        const details: ContainerDetails = {
          id: c.Id, name: (c.Name ?? c.Id).replace(/^\//, ''), imageId: c.Image, image: c.Config?.Image ?? '',
          labels: labelsOf(c.Config?.Labels), state: c.State?.Status ?? '',
        };
        return details;
      } catch (error) {
        if ((error as ErrorLike).statusCode === 404) return undefined;
        throw engineError(error, `inspecting container ${id.slice(0, 12)}`, where);
      }
    },

    async containerEvents(signal, options = {}) {
      if (signal.aborted) throw new ResolverError('ERR_ABORTED', 'the events stream was cancelled');
      const controller = new AbortController();
      const unlink = linkAbort(signal, controller);
      const connectMs = options.connectTimeoutMs ?? 10_000;
      let stream: Readable;
      try {
        // The deadline covers the connect only; the request (the stream) follows `signal` for its whole life.
        stream = await withDeadline(docker.getEvents({ filters: { type: ['container'] }, abortSignal: controller.signal }), connectMs, {
          what: 'GET /events', code: 'ERR_ENGINE_UNAVAILABLE', message: `the Docker Engine at ${where} did not answer GET /events within ${connectMs / 1000} s`,
          onTimeout: (error) => controller.abort(error),
        }) as unknown as Readable; // dockerode resolves to the engine's http.IncomingMessage, a Readable.
      } catch (error) {
        unlink();
        const reason: unknown = controller.signal.reason;
        if (reason instanceof ResolverError) throw reason;
        throw engineError(error, 'opening the events stream', where);
      }
      const splitter = new LineSplitter();
      return (async function* events(): AsyncGenerator<ContainerEvent> {
        try {
          for await (const chunk of stream) {
            for (const line of splitter.push(chunk as Buffer)) {
              const event = parseContainerEvent(line);
              if (event !== undefined) yield event;
            }
          }
        } catch (error) {
          if (signal.aborted) return;
          throw engineError(error, 'reading the events stream', where);
        } finally {
          unlink();
          stream.destroy();
        }
      })();
    },
  };
}

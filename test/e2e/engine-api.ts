/** Direct Engine API calls for assertions (independent of the code under test's engine client). */
import { createHttpClient, type HttpClient } from '../../src/http/http.js';

export interface EngineApi {
  get(path: string): Promise<{ status: number; json: any }>;
  post(path: string): Promise<{ status: number; text: string }>;
  postJson(path: string, body: unknown): Promise<any>;
  del(path: string): Promise<number>;
  close(): Promise<void>;
}

/** A client for the engine at `dockerHost` (`unix://…`). */
export function engineApi(dockerHost: string): EngineApi {
  const http: HttpClient = createHttpClient({ socketPath: dockerHost.replace(/^unix:\/\//, ''), headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 });
  const url = (p: string): URL => new URL(`http://localhost/v1.41${p}`);
  return {
    async get(path) {
      const r = await http.send({ method: 'GET', url: url(path), deadlineMs: 30_000, maxBytes: 16 << 20 });
      return { status: r.status, json: r.status === 200 ? JSON.parse(r.body.toString('utf8')) : undefined };
    },
    async post(path) {
      const r = await http.send({ method: 'POST', url: url(path), deadlineMs: 120_000, maxBytes: 16 << 20 });
      return { status: r.status, text: r.body.toString('utf8') };
    },
    async postJson(path, body) {
      const r = await http.send({ method: 'POST', url: url(path), body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, deadlineMs: 30_000, maxBytes: 1 << 20 });
      return JSON.parse(r.body.toString('utf8'));
    },
    async del(path) {
      const r = await http.send({ method: 'DELETE', url: url(path), deadlineMs: 30_000, maxBytes: 1 << 20 }).catch(() => ({ status: 0 }));
      return r.status;
    },
    close: () => http.close(),
  };
}

/** A container as the engine lists it. */
export interface ListedContainer {
  Id: string;
  Names: string[];
  ImageID: string;
  State: string;
}

/** The containers whose name is `n` or `n-resolver-old` (the engine's name filter is a substring match). */
export async function containersNamed(api: EngineApi, n: string): Promise<ListedContainer[]> {
  const r = await api.get(`/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ name: [n] }))}`);
  return (r.json as ListedContainer[]).filter((c) => c.Names.some((x) => x === `/${n}` || x === `/${n}-resolver-old`));
}

/** The engine's image id for `ref`, or undefined when it has no such image. */
export async function imageIdOf(api: EngineApi, ref: string): Promise<string | undefined> {
  const r = await api.get(`/images/${ref}/json`);
  return r.status === 200 ? (r.json.Id as string) : undefined;
}

/** Force-removes the containers named `n` or `n-resolver-old` (a test's leftovers). */
export async function removeContainersNamed(api: EngineApi, n: string): Promise<void> {
  for (const c of await containersNamed(api, n)) await api.del(`/containers/${c.Id}?force=1`);
}

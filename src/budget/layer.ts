/**
 * The budget as a layer of the registry client (docs/registry-client.md, docs/budget.md): before a request
 * is sent it asks the `RegistryBudget` whether it may go, and after the answer it tells the budget what the
 * registry said (`ratelimit-*`, a 429 and its `Retry-After`). A refused request is not sent: it fails with
 * a `DeferredError` (code ERR_RATE_LIMITED) that says until when, which the daemon's runner turns into a
 * `deferred` event instead of a failure. The types are structural so that this folder does not import the
 * registry client it plugs into.
 */
import { ResolverError } from '../errors.js';
import type { AllowanceHeaders, RegistryBudget, Refusal } from './budget.js';

/** A request was not sent because of the budget; it may go at `until` (epoch ms). */
export class DeferredError extends ResolverError {
  override name = 'DeferredError';
  readonly reason: Refusal['reason'];
  readonly until: number;

  constructor(refusal: Refusal) {
    super('ERR_RATE_LIMITED', refusal.message, {
      details: [refusal.reason === 'reserve' ? 'the reserve is kept for people and other tools; set budget.reserve to change it' : 'the registry asked every client to slow down'],
    });
    this.reason = refusal.reason;
    this.until = refusal.until;
  }
}

/** What the layer reads of a request. */
export interface BudgetedRequest {
  readonly repo: { readonly host: string };
  readonly method: string;
  readonly path: string;
}

/** What the layer reads of a response. */
export interface BudgetedResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Whether the registry charges a request: a GET of a manifest (Docker Hub's rule: "a pull is a GET of a
 * manifest"; HEAD and blob GETs are free). Applied to every registry that announces a `ratelimit-*`
 * allowance; a registry that announces none is never refused for its count.
 */
export function isCounted(method: string, path: string): boolean {
  return method === 'GET' && /\/manifests\/[^/]+$/.test(path.split('?')[0] ?? '');
}

/** What the layer needs. */
export interface BudgetLayerOptions<Q> {
  readonly budget: RegistryBudget;
  /** Who the request is sent as (`anonymous`, or the credential's source and user name). */
  readonly identity: (req: Q) => Promise<string>;
  readonly parseAllowance: (headers: Readonly<Record<string, string>>) => AllowanceHeaders | undefined;
  readonly parseRetryAfter: (value: string | undefined) => number | undefined;
}

/** The layer: `(next) => send`, of the registry client's `Layer` shape. */
export function budgetLayer<Q extends BudgetedRequest, R extends BudgetedResponse>(o: BudgetLayerOptions<Q>): (next: (req: Q) => Promise<R>) => (req: Q) => Promise<R> {
  return (next) => async (req) => {
    const counted = isCounted(req.method, req.path);
    const who = await o.identity(req);
    const refusal = o.budget.admit(req.repo.host, who, counted);
    if (refusal !== undefined) throw new DeferredError(refusal);
    const res = await next(req);
    const retryAfter = res.status === 429 ? o.parseRetryAfter(res.headers['retry-after']) : undefined;
    o.budget.answered(req.repo.host, who, counted, res.status, o.parseAllowance(res.headers), retryAfter === undefined ? undefined : retryAfter * 1000);
    return res;
  };
}

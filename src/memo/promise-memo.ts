/**
 * "Remember a promise", written once (issue 14): concurrent and later callers share one pending or
 * fulfilled promise per key, and a rejected one is forgotten, so one credential-helper timeout does not
 * fail every later check until a reload (issue 14, defect 1). Used for credentials, config.json files, the
 * engine's /version + /info and the engine connection of the CLI.
 */
export class PromiseMemo<K, V> {
  readonly #entries = new Map<K, Promise<V>>();

  /** The remembered promise for `key`, or the one `make` starts (remembered until it rejects). */
  get(key: K, make: () => Promise<V>): Promise<V> {
    const known = this.#entries.get(key);
    if (known !== undefined) return known;
    const started = make();
    this.#entries.set(key, started);
    started.catch(() => {
      if (this.#entries.get(key) === started) this.#entries.delete(key);
    });
    return started;
  }

  /** Forgets `key` (or everything). */
  clear(key?: K): void {
    if (key === undefined) this.#entries.clear();
    else this.#entries.delete(key);
  }
}

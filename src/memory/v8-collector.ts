/**
 * One full garbage collection on demand, for the daemon's idle collector (./idle-collect.ts). V8 gives
 * JavaScript a `gc()` only with `--expose-gc`, and only to contexts created after the flag is set: the unit,
 * the container and the tarball all start through bin/resolver.cjs (or the startup snapshot), after the main
 * context exists, so the flag is set here, one small context is made to get V8's `gc` from it, and the flag is
 * cleared again (no later context gets a `gc` global). `globalThis.gc` is used when the process already has it.
 * Undefined where the runtime refuses (then the daemon just relies on V8's own collections).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function v8Collector(): (() => void) | undefined {
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === 'function') return () => void (own as () => unknown)();
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? () => void (gc as () => unknown)() : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}

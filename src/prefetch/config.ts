/**
 * The `prefetch:` fragment of the daemon's config (issue 12 §5, docs/prefetch.md): whether resolver fetches a
 * child's blobs itself (resumable, capped) before the engine pulls them from a loopback registry, the cap,
 * the loopback port and the requests per blob per cycle. Pure: config/schema.ts embeds it.
 */
import { z } from 'zod';
import { parseWatermark } from '../preflight/config.js';

/** What the prefetch does, after defaults. */
export interface PrefetchSettings {
  readonly enabled: boolean;
  /** Bytes per second; undefined: no cap. */
  readonly rateBytesPerSecond: number | undefined;
  /** 0: picked once and kept in the state folder. */
  readonly port: number;
  readonly attempts: number;
}

/** Bytes per second of `2MB`, `512KiB`, `1048576`, with an optional `/s`; undefined when it is none of these (or 0). */
export function parseRate(value: string | number): number | undefined {
  const text = typeof value === 'number' ? value : value.trim().replace(/\s*\/\s*s$/, '');
  const w = parseWatermark(text);
  return w?.kind === 'bytes' && w.value > 0 ? w.value : undefined;
}

const Prefetch = z.strictObject({
  enabled: z.boolean().default(true).describe('fetch each new child\'s blobs into the state folder first (resumable with Range across failed pulls), then let the engine pull them from a loopback registry; default true once prefetch: is given'),
  rate: z.union([z.number().int().positive(), z.string()]).optional()
    .superRefine((value, ctx) => {
      if (value !== undefined && parseRate(value) === undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a rate: bytes per second such as 2MB, 512KiB/s or 1048576` });
    })
    .describe('the most bytes per second the prefetch takes from registries (2MB, 512KiB/s, 1048576); default: no cap'),
  port: z.number().int().min(0).max(65535).default(0).describe('port of the loopback registry on 127.0.0.1 the engine pulls prefetched children from; default 0: picked once and kept in the state folder'),
  attempts: z.number().int().min(1).max(20).default(3).describe('requests per blob per check before the check fails (the next check resumes from what came); default 3'),
});

/** The `prefetch:` field; absent: off (the engine fetches), `prefetch:` with nothing under it: on with the defaults. */
export const prefetchField = Prefetch.nullish()
  .transform((v): PrefetchSettings => {
    if (v === undefined) return { enabled: false, rateBytesPerSecond: undefined, port: 0, attempts: 3 };
    const p = v ?? Prefetch.parse({});
    return { enabled: p.enabled, rateBytesPerSecond: p.rate === undefined ? undefined : parseRate(p.rate), port: p.port, attempts: p.attempts };
  })
  .describe('resolver-side prefetch: resumable, bandwidth-capped blob downloads handed to the engine through a loopback registry (docs/prefetch.md); off by default');

/**
 * The `preflight:` fragment of the daemon's config (issue 12 §4): whether a pull first checks that the
 * engine's data root has room for the child, the watermark to keep free, and the factor from a layer's
 * compressed size to its size on disk. Pure: config/schema.ts embeds it; `preflight.ts` applies it.
 * The model is documented in docs/preflight.md.
 */
import { z } from 'zod';

const sizeRe = /^(\d+(?:\.\d+)?)\s*(B|kB|KB|KiB|MB|MiB|GB|GiB|TB|TiB)?$/;
const percentRe = /^(\d+(?:\.\d+)?)\s*%$/;
const units: Readonly<Record<string, number>> = {
  B: 1, kB: 1e3, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3, TB: 1e12, TiB: 1024 ** 4,
};

/** A watermark: a share of the file system's size, or a number of bytes. */
export type Watermark = { readonly kind: 'percent'; readonly value: number } | { readonly kind: 'bytes'; readonly value: number };

/** Parses `10%`, `2GiB`, `500MB`, `1048576` (bytes); undefined when it is none of these. */
export function parseWatermark(value: string | number): Watermark | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? { kind: 'bytes', value: Math.round(value) } : undefined;
  const text = value.trim();
  const p = percentRe.exec(text);
  if (p !== null) {
    const n = Number.parseFloat(p[1] ?? 'NaN');
    return n <= 100 ? { kind: 'percent', value: n } : undefined;
  }
  const s = sizeRe.exec(text);
  if (s === null) return undefined;
  return { kind: 'bytes', value: Math.round(Number.parseFloat(s[1] ?? 'NaN') * (units[s[2] ?? 'B'] ?? 1)) };
}

/** The bytes a watermark keeps free on a file system of `total` bytes. */
export function watermarkBytes(w: Watermark, total: number): number {
  return w.kind === 'bytes' ? w.value : Math.ceil((total * w.value) / 100);
}

/** What the preflight does, after defaults. */
export interface PreflightSettings {
  readonly enabled: boolean;
  readonly minFree: Watermark;
  /** On-disk (uncompressed) bytes per compressed byte of a layer. */
  readonly expansion: number;
  /** statfs this path instead of the engine's DockerRootDir (the data root mounted elsewhere, e.g. in a container). */
  readonly path: string | undefined;
}

/** The defaults: on, keep 10 % free, a layer takes 3 times its compressed size on disk. */
export const defaultPreflight: PreflightSettings = { enabled: true, minFree: { kind: 'percent', value: 10 }, expansion: 3, path: undefined };

const WatermarkInput = z
  .union([z.number().int().nonnegative(), z.string()])
  .superRefine((value, ctx) => {
    if (parseWatermark(value) === undefined) ctx.addIssue({ code: 'custom', message: `"${value}" is not a watermark: a percentage such as 10% or a size such as 2GiB, 500MB or a number of bytes` });
  });

const Preflight = z.strictObject({
  enabled: z.boolean().default(true).describe('check that the engine\'s data root has room for a child before pulling it; default true'),
  minFree: WatermarkInput.default('10%').describe('free space to keep on the data root after the pull: a percentage of its size (10%) or bytes (2GiB, 500MB, 1048576); default 10%'),
  expansion: z.number().min(1).max(20).default(3).describe('on-disk bytes per compressed byte of a layer (layers are stored uncompressed); default 3'),
  path: z.string().min(1).optional().describe("statfs this folder instead of the engine's DockerRootDir (when the data root is mounted elsewhere, e.g. inside a container)"),
});

/** The `preflight:` field of the daemon's config; `preflight:` with nothing under it means the defaults. */
export const preflightField = Preflight.nullish()
  .transform((v): PreflightSettings => {
    const p = v ?? Preflight.parse({});
    return { enabled: p.enabled, minFree: parseWatermark(p.minFree) ?? defaultPreflight.minFree, expansion: p.expansion, path: p.path };
  })
  .describe('disk preflight before each pull: hold the pull when the data root would fall below minFree (docs/preflight.md)');

/**
 * Settings for the one-shot commands (`pull`, `run`), which have no config file: the defaults, changed by
 * `RESOLVER_PREFLIGHT=0` (off), `RESOLVER_PREFLIGHT_MIN_FREE` and `RESOLVER_PREFLIGHT_PATH`. An invalid
 * value is reported by `problem`.
 */
export function preflightFromEnv(env: Readonly<Record<string, string | undefined>>): { settings: PreflightSettings; problem: string | undefined } {
  const off = env['RESOLVER_PREFLIGHT'];
  const enabled = off === undefined || off === '' ? true : !['0', 'false', 'off', 'no'].includes(off.toLowerCase());
  const raw = env['RESOLVER_PREFLIGHT_MIN_FREE'];
  const parsed = raw === undefined || raw === '' ? defaultPreflight.minFree : parseWatermark(raw);
  const path = env['RESOLVER_PREFLIGHT_PATH'];
  return {
    settings: { ...defaultPreflight, enabled, minFree: parsed ?? defaultPreflight.minFree, path: path === undefined || path === '' ? undefined : path },
    problem: parsed === undefined ? `RESOLVER_PREFLIGHT_MIN_FREE="${raw ?? ''}" is not a percentage (10%) or a size (2GiB); using 10%` : undefined,
  };
}

/**
 * The `discovery:` fragment of the daemon's config (issue 11 §4): besides `images:`, follow the tags of the
 * engine's containers that carry `resolver.enable=true` (or every container with `watchByDefault: true`,
 * except those labelled `resolver.enable=false`). Documented in docs/discovery.md. Pure.
 */
import { z } from 'zod';
import { durationPattern, durationToMs } from '../duration/duration.js';

const durationRe = durationPattern;

/** `500ms`, `30s`, `5m`, `1h` or a number of seconds, in milliseconds (the grammar of config/schema.ts). */
export function durationMs(value: string | number): number {
  return durationToMs(value) ?? Number.NaN;
}

const Duration = (min: string, max: string) =>
  z
    .union([z.number().nonnegative(), z.string().regex(durationRe, 'a duration such as 2s, 5m or 1h')])
    .refine((v) => durationMs(v) >= durationMs(min) && durationMs(v) <= durationMs(max), { error: `between ${min} and ${max}` });

const Discovery = z.strictObject({
  enabled: z.boolean().default(true).describe('false turns discovery off and keeps the section'),
  watchByDefault: z.boolean().default(false).describe('follow every container, not only those labelled resolver.enable=true (resolver.enable=false still excludes one)'),
  includeStopped: z.boolean().default(true).describe('created, stopped and exited containers count too (their next start runs the tag); false: only running, paused or restarting ones'),
  resync: Duration('10s', '24h').default('5m').describe('full re-list of the containers besides the events stream (a safety net)'),
  debounce: Duration('0s', '1m').default('2s').describe('wait this long after a container event for the burst to end before re-listing'),
});

/** The discovery settings as the daemon uses them (durations in milliseconds). */
export interface DiscoveryConfig {
  readonly watchByDefault: boolean;
  readonly includeStopped: boolean;
  readonly resyncMs: number;
  readonly debounceMs: number;
}

/** The `discovery:` key of the config: absent, null or `enabled: false` is off (undefined). */
export const discoveryField = Discovery.nullish()
  .transform((d): DiscoveryConfig | undefined =>
    d?.enabled !== true
      ? undefined
      : { watchByDefault: d.watchByDefault, includeStopped: d.includeStopped, resyncMs: durationMs(d.resync), debounceMs: durationMs(d.debounce) })
  .describe('follow the tags of labelled containers besides images: (docs/discovery.md)');

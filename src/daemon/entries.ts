/**
 * A config's entries (issue 9.3): each image and the platform it asks for, keyed `image platform`, with the
 * options it runs under; merged with the entries a source besides the config finds (discovery by label,
 * docs/discovery.md). Pure: the daemon calls `entriesOf` on every load and every change of the source.
 */
import type { Config } from '../config/schema.js';
import { platformKey } from '../config/values.js';
import { mergeEntries, sourceText, type FoundEntry } from '../discover/select.js';
import { formatReference, parseReference, registryHost, withDefaultTag } from '../reference/reference.js';
import { rolloutPolicyOf } from '../rollout/config.js';
import { detectedPlatform, type ConfigSummary, type EntrySpec } from './events.js';
import { splayOf } from './scheduler.js';

/**
 * A source of entries besides the config file: discovery by label (src/discover) is one. The daemon merges
 * `current()` into the config's entries (entriesOf) and re-merges on every `onChange`.
 */
export interface EntriesSource {
  current(): readonly FoundEntry[];
  /** Calls `listener` when `current()` changed; returns the unsubscribe function. */
  onChange(listener: () => void): () => void;
  /** Reads `rollout.machineIdFile` (tests inject it); default: the file system. */
  readonly readFile?: (path: string) => Promise<string>;
}

/** The key of an entry: its image and the platform it asks for. */
export function entryKey(image: string, platformSpec: string | undefined): string {
  return `${image} ${platformSpec ?? detectedPlatform}`;
}

/**
 * The entries of a config, in order, then the found ones it does not list: a found entry of the same image
 * and platform as a configured one is that entry, with the config's options; the others take the global
 * options, at the platform of their containers' image (the detected one when that is the host's).
 */
export function entriesOf(config: Config, found: readonly FoundEntry[] = []): EntrySpec[] {
  const configured = config.images.map((i): EntrySpec => {
    const ref = withDefaultTag(parseReference(i.image));
    const image = formatReference(ref);
    const platformSpec = i.platform ?? config.platform;
    return {
      key: entryKey(image, platformSpec), image, platformSpec, registry: registryHost(ref), schedule: i.schedule ?? config.schedule, splayMs: splayOf(config.splayMs, i.schedule ?? config.schedule),
      onMissingPlatform: i.onMissingPlatform ?? config.onMissingPlatform, retain: i.retain ?? config.retain,
      rollout: rolloutPolicyOf(config.rollout, i.rollout),
    };
  });
  if (found.length === 0) return configured;
  const merged = mergeEntries(configured, found, {
    platformKey,
    make: (f): EntrySpec => {
      const platformSpec = f.host ? undefined : f.platform;
      return {
        key: entryKey(f.image, platformSpec), image: f.image, platformSpec, registry: registryHost(parseReference(f.image)), schedule: config.schedule, splayMs: splayOf(config.splayMs, config.schedule),
        onMissingPlatform: config.onMissingPlatform, retain: config.retain, rollout: rolloutPolicyOf(config.rollout, undefined),
      };
    },
  });
  return merged.map((m) => (m.containers.length === 0 ? m.entry : { ...m.entry, source: sourceText(m.configured, m.containers) }));
}

/** The effective config without secrets, for the `configured` event. */
export function summaryOf(config: Config): ConfigSummary {
  const n = config.notifications;
  return {
    images: config.images.length, schedule: config.schedule, splayMs: splayOf(config.splayMs, config.schedule), concurrency: config.concurrency, platform: config.platform,
    onMissingPlatform: config.onMissingPlatform, retain: config.retain, logLevel: config.logLevel,
    metrics: config.metrics === undefined ? undefined : { listen: config.metrics.listen, token: config.metrics.token !== undefined, tls: config.metrics.tls !== undefined },
    notifications: n === undefined ? undefined : { webhooks: n.webhooks.length, mqtt: n.mqtt !== undefined, hooks: n.hooks.length },
  };
}

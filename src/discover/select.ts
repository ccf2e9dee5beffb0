/**
 * Which containers discovery follows, and the entries they make (pure; docs/discovery.md):
 * - a container is followed when it is labelled `resolver.enable=true`, or with `watchByDefault` unless it is
 *   labelled `resolver.enable=false`; with `includeStopped: false` only running (paused, restarting) ones;
 * - its tag is `resolver.image` when labelled so, else the reference it was created from (`Config.Image`);
 *   one created from an image ID or pinned by digest has no tag to follow and is skipped (logged once);
 * - its platform is its image's (the engine's image inspect), never the host default: a container created with
 *   `--platform linux/arm64` on an amd64 host is checked for linux/arm64 (Watchtower #1309). One whose image
 *   has the host's platform is an entry for the detected platform, the same entry as an `images:` item
 *   without `platform:`.
 */
import { formatPlatformAll, normalizePlatform, platform as makePlatform } from '../platform/platform.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import type { DiscoveryConfig } from './config.js';

/** The label that opts a container in (`true`) or out (`false`). */
export const enableLabel = 'resolver.enable';
/** The label that names the tag to follow instead of the one the container was created from. */
export const imageLabel = 'resolver.image';

/**
 * Container events after which the followed set may differ: a container appeared, went, started, stopped or
 * was renamed (Docker's and Podman's words). `exec_*`, `health_status`, `attach`, `resize`, `top` and the like
 * change nothing discovery reads and cause no re-list.
 */
export const listChangingActions: ReadonlySet<string> = new Set(['create', 'start', 'restart', 'die', 'died', 'stop', 'kill', 'destroy', 'remove', 'rename', 'update', 'cleanup', 'init']);

/** States in which a container runs (or is about to): followed even with `includeStopped: false`. */
const runningStates = new Set(['running', 'paused', 'restarting']);

/** How a container came to be followed. */
export type FollowReason = 'label' | 'default';

/** Whether discovery follows a container with these labels in this state, and why. */
export function followReason(labels: Readonly<Record<string, string>>, state: string, config: Pick<DiscoveryConfig, 'watchByDefault' | 'includeStopped'>): FollowReason | undefined {
  const value = labels[enableLabel]?.trim().toLowerCase();
  const reason = value === 'true' ? 'label' : value !== 'false' && config.watchByDefault ? 'default' : undefined;
  if (reason === undefined) return undefined;
  return config.includeStopped || runningStates.has(state) ? reason : undefined;
}

/** The tag a container follows (canonical, with `:latest` when it has none), or why it has none. */
export function followedImage(container: { readonly image: string; readonly imageId: string; readonly labels: Readonly<Record<string, string>> }): { image: string } | { skip: string } {
  const override = container.labels[imageLabel]?.trim();
  const text = override !== undefined && override !== '' ? override : container.image;
  const source = text === override ? `its ${imageLabel} label "${text}"` : `"${text}"`;
  const hex = container.imageId.replace(/^sha256:/, '');
  if (text === '' || text === container.imageId || /^(sha256:)?[a-f0-9]{12,64}$/.test(text) && hex.startsWith(text.replace(/^sha256:/, ''))) {
    return { skip: `it runs an image by ID (${text === '' ? container.imageId.slice(0, 19) : text.slice(0, 19)}), which has no tag to follow; label it ${imageLabel}=REPO:TAG to follow one` };
  }
  let ref;
  try {
    ref = parseReference(text);
  } catch (error) {
    return { skip: `${source} is not a reference (${error instanceof Error ? error.message : String(error)})` };
  }
  if (ref.digest !== undefined) {
    return { skip: `it runs ${source}, pinned by digest: there is no tag to follow; label it ${imageLabel}=REPO:TAG to follow one` };
  }
  return { image: formatReference(withDefaultTag(ref)) };
}

/** An image's platform as the engine's image inspect says it. */
export interface ImagePlatform {
  readonly os: string;
  readonly architecture: string;
  readonly variant: string;
}

/** The normalised `os/arch[/variant]` of an image or host platform (`linux/arm64` for arm64/v8). */
export function platformText(p: ImagePlatform): string {
  return formatPlatformAll(normalizePlatform(makePlatform(p.os, p.architecture, p.variant), 'linux'));
}

/** A followed container. */
export interface FoundContainer {
  readonly id: string;
  readonly name: string;
  readonly reason: FollowReason;
}

/** A tag and platform that one or more followed containers run. */
export interface FoundEntry {
  /** Canonical reference with its tag. */
  readonly image: string;
  /** The image's platform, normalised (`linux/arm64`, `linux/arm/v7`). */
  readonly platform: string;
  /** True when that is the host's platform: the entry is the detected platform's. */
  readonly host: boolean;
  /** The containers, sorted by name. */
  readonly containers: readonly FoundContainer[];
}

/** One followed container with its tag and image platform. */
export interface Followed {
  readonly container: FoundContainer;
  readonly image: string;
  readonly platform: ImagePlatform;
}

/** Groups followed containers into entries (one per tag and platform), sorted by image and platform. */
export function groupEntries(followed: readonly Followed[], host: ImagePlatform): FoundEntry[] {
  const hostText = platformText(host);
  const groups = new Map<string, { image: string; platform: string; containers: FoundContainer[] }>();
  for (const f of followed) {
    const text = platformText(f.platform);
    const key = `${f.image} ${text}`;
    const group = groups.get(key) ?? { image: f.image, platform: text, containers: [] };
    group.containers.push(f.container);
    groups.set(key, group);
  }
  return [...groups.values()]
    .sort((a, b) => (a.image === b.image ? a.platform.localeCompare(b.platform) : a.image.localeCompare(b.image)))
    .map((g) => ({ ...g, host: g.platform === hostText, containers: g.containers.sort((a, b) => a.name.localeCompare(b.name)) }));
}

/** A text that changes exactly when the entries (or their containers) change. */
export function entriesFingerprint(entries: readonly FoundEntry[]): string {
  return entries.map((e) => `${e.image} ${e.platform} ${String(e.host)} ${e.containers.map((c) => `${c.name}=${c.reason}`).join(',')}`).join('\n');
}

/** Where an entry came from, as `resolver status` says it. */
export function sourceText(configured: boolean, containers: readonly FoundContainer[]): string {
  const parts = configured ? ['config'] : [];
  const labelled = containers.filter((c) => c.reason === 'label').map((c) => c.name);
  const byDefault = containers.filter((c) => c.reason === 'default').map((c) => c.name);
  if (labelled.length > 0) parts.push(`label of container${labelled.length === 1 ? '' : 's'} ${labelled.join(', ')}`);
  if (byDefault.length > 0) parts.push(`container${byDefault.length === 1 ? '' : 's'} ${byDefault.join(', ')} (watchByDefault)`);
  return parts.join(' + ');
}

/**
 * Merges found entries into the configured ones: a found entry of the same image and platform as a
 * configured one is that entry (the config's options win; the containers are added to its source); an
 * `images:` item without a platform is the host's. The others follow, as made by `make`.
 */
export function mergeEntries<C extends { readonly image: string; readonly platformSpec: string | undefined }>(
  configured: readonly C[],
  found: readonly FoundEntry[],
  options: { readonly platformKey: (spec: string) => string | undefined; readonly make: (entry: FoundEntry) => C },
): { entry: C; configured: boolean; containers: readonly FoundContainer[] }[] {
  const out = configured.map((entry) => ({ entry, configured: true, containers: [] as FoundContainer[] }));
  for (const f of found) {
    const same = out.find((o) => o.configured && o.entry.image === f.image && (o.entry.platformSpec === undefined ? f.host : safeKey(options.platformKey, o.entry.platformSpec) === f.platform));
    if (same !== undefined) same.containers.push(...f.containers);
    else out.push({ entry: options.make(f), configured: false, containers: [...f.containers] });
  }
  return out;
}

function safeKey(key: (spec: string) => string | undefined, spec: string): string | undefined {
  try {
    return key(spec);
  } catch {
    return undefined;
  }
}

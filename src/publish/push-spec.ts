/**
 * `manifest push --from-spec`: builds a multi-platform index from per-platform images named in a
 * manifest-tool-style YAML spec and pushes it. Children in other repositories of the same registry are
 * brought in with cross-repository blob mounts, copied only when the registry refuses to mount. Missing
 * platforms are filled from each image's config; a contradiction, a duplicate platform, or a child that is
 * itself an index is an error naming the entry.
 */
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { classifyManifest, digestOf } from '../manifest/classify.js';
import { isImageManifestMediaType, mediaTypes } from '../manifest/media-types.js';
import { ImageConfigPlatform, type ImageManifest } from '../manifest/schema.js';
import { formatPlatform, normalizePlatform, platform as makePlatform } from '../platform/platform.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import type { RegistryClient } from '../registry/client.js';
import { repositoryOf } from '../resolver/resolve.js';

const SpecPlatform = z.strictObject({
  architecture: z.string(),
  os: z.string(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  features: z.array(z.string()).optional(),
});

/** The spec file (manifest-tool's shape). */
export const ManifestSpec = z.strictObject({
  image: z.string().describe('the multi-platform name:tag to push'),
  tags: z.array(z.string()).default([]).describe('extra tags for the same index'),
  manifests: z.array(z.strictObject({ image: z.string(), platform: SpecPlatform.optional() })).min(1, 'list at least one image under manifests'),
});
export type ManifestSpec = z.infer<typeof ManifestSpec>;

/** What was pushed. */
export interface PushedIndex {
  readonly reference: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly tags: readonly string[];
  readonly mounted: number;
  readonly copied: number;
}

/** Pushes the index a spec describes. */
export async function pushFromSpec(registry: RegistryClient, spec: ManifestSpec, options: { format?: 'oci' | 'docker' | undefined; signal?: AbortSignal | undefined } = {}): Promise<PushedIndex> {
  const target = withDefaultTag(parseReference(spec.image));
  const targetRepo = repositoryOf(target);
  const signal = options.signal;
  const entries: { mediaType: string; digest: string; size: number; platform: Record<string, unknown> }[] = [];
  const seen = new Map<string, string>();
  let mounted = 0;
  let copied = 0;
  for (const [i, entry] of spec.manifests.entries()) {
    const where = `manifests[${i}] (${entry.image})`;
    const ref = withDefaultTag(parseReference(entry.image));
    if (ref.domain !== target.domain) {
      throw new ResolverError('ERR_USAGE', `${where} is on ${ref.domain}, the index goes to ${target.domain}`, { details: ['push every per-platform image to the target registry first'] });
    }
    const repo = repositoryOf(ref);
    const digest = ref.digest ?? (await registry.resolveTag(repo, ref.tag ?? 'latest', signal)).digest;
    const fetched = await registry.getManifest(repo, digest, signal);
    const doc = classifyManifest(fetched.body, fetched.contentType, digest, where);
    if (doc.kind !== 'manifest') throw new ResolverError('ERR_USAGE', `${where} is itself a multi-platform index; name one per-platform image`);
    const configJson: unknown = JSON.parse((await registry.getBlob(repo, doc.manifest.config.digest, signal)).toString('utf8'));
    const cfg = ImageConfigPlatform.safeParse(configJson);
    const fromConfig = cfg.success ? makePlatform(cfg.data.os ?? '', cfg.data.architecture ?? '', cfg.data.variant ?? '', { osVersion: cfg.data['os.version'] ?? '' }) : undefined;
    const given = entry.platform === undefined ? undefined : makePlatform(entry.platform.os, entry.platform.architecture, entry.platform.variant ?? '', { osVersion: entry.platform['os.version'] ?? '', osFeatures: entry.platform['os.features'] ?? [] });
    const chosen = given ?? fromConfig;
    if (chosen === undefined || chosen.architecture === '') throw new ResolverError('ERR_USAGE', `${where} has no platform in its config; give one in the spec`);
    if (given !== undefined && fromConfig !== undefined && fromConfig.architecture !== '') {
      const a = normalizePlatform(given, 'linux');
      const b = normalizePlatform(fromConfig, 'linux');
      // A config without a variant does not contradict a spec that names one (arm64 configs rarely do).
      if (a.os !== b.os || a.architecture !== b.architecture || (b.variant !== '' && a.variant !== b.variant)) {
        throw new ResolverError('ERR_USAGE', `${where}: the spec says ${formatPlatform(given)} but the image's config says ${formatPlatform(fromConfig)}`);
      }
    }
    const key = `${formatPlatform(normalizePlatform(chosen, 'linux'))} ${chosen.osVersion}`;
    const other = seen.get(key);
    if (other !== undefined) throw new ResolverError('ERR_USAGE', `${where} and ${other} are both ${formatPlatform(chosen)}; an index needs one image per platform`);
    seen.set(key, where);

    if (repo.path !== targetRepo.path) {
      const manifest: ImageManifest = doc.manifest;
      for (const blob of [manifest.config, ...manifest.layers]) {
        if (await registry.hasBlob(targetRepo, blob.digest, signal)) continue;
        if (await registry.mountBlob(targetRepo, blob.digest, repo.path, signal)) {
          mounted++;
        } else {
          await registry.pushBlob(targetRepo, blob.digest, await registry.getBlob(repo, blob.digest, signal, 1 << 30), signal);
          copied++;
        }
      }
      await registry.putManifest(targetRepo, digest, doc.mediaType, fetched.body, signal);
    }
    entries.push({
      mediaType: doc.mediaType, digest, size: fetched.body.byteLength,
      platform: {
        architecture: chosen.architecture, os: chosen.os,
        ...(chosen.variant === '' ? {} : { variant: chosen.variant }),
        ...(chosen.osVersion === '' ? {} : { 'os.version': chosen.osVersion }),
        ...(chosen.osFeatures.length === 0 ? {} : { 'os.features': chosen.osFeatures }),
        ...(entry.platform?.features === undefined ? {} : { features: entry.platform.features }),
      },
    });
  }
  const format = options.format ?? (entries.every((e) => e.mediaType === mediaTypes.ociManifest) ? 'oci' : 'docker');
  const mediaType = format === 'oci' ? mediaTypes.ociIndex : mediaTypes.dockerList;
  if (!entries.every((e) => isImageManifestMediaType(e.mediaType))) throw new ResolverError('ERR_USAGE', 'every entry must be an image manifest');
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType, manifests: entries }, null, 2));
  const tags = [target.tag ?? 'latest', ...spec.tags];
  for (const tag of tags) await registry.putManifest(targetRepo, tag, mediaType, body, signal);
  return { reference: formatReference(target), digest: digestOf(body), mediaType, tags, mounted, copied };
}

/**
 * zod schemas of registry documents: the OCI image index / Docker manifest list and the
 * OCI / Docker schema2 image manifest. Specs: https://github.com/opencontainers/image-spec/blob/main/image-index.md,
 * https://github.com/opencontainers/image-spec/blob/main/manifest.md,
 * https://distribution.github.io/distribution/spec/manifest-v2-2/. Pure.
 */
import { z } from 'zod';

const digestRe = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** A digest string (shape only; the algorithm is checked where it is verified). */
export const Digest = z.string().regex(digestRe, 'not a digest (algorithm:hex)');
export type Digest = z.infer<typeof Digest>;

/** The platform object of an index entry. Every field is optional: Docker accepts `{}` and arch-only entries. */
export const DescriptorPlatform = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});
export type DescriptorPlatform = z.infer<typeof DescriptorPlatform>;

/** An OCI content descriptor. */
export const Descriptor = z.object({
  mediaType: z.string(),
  digest: Digest,
  size: z.number().int().nonnegative(),
  platform: DescriptorPlatform.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().optional(),
  urls: z.array(z.string()).optional(),
});
export type Descriptor = z.infer<typeof Descriptor>;

/**
 * The fields an index and a manifest share (image-spec index.md and manifest.md), in the order both list them;
 * each document's own fields (`manifests`; `config`, `layers`) come after `mediaType`.
 */
const head = { schemaVersion: z.literal(2), mediaType: z.string().optional() };
const tail = { annotations: z.record(z.string(), z.string()).optional(), subject: Descriptor.optional(), artifactType: z.string().optional() };

/** OCI image index or Docker manifest list. */
export const ImageIndex = z.object({ ...head, manifests: z.array(Descriptor), ...tail });
export type ImageIndex = z.infer<typeof ImageIndex>;

/** OCI image manifest or Docker schema2 manifest. */
export const ImageManifest = z.object({ ...head, config: Descriptor, layers: z.array(Descriptor), ...tail });
export type ImageManifest = z.infer<typeof ImageManifest>;

/** The parts of an image config that identify its platform. */
export const ImageConfigPlatform = z.object({
  architecture: z.string().optional(),
  os: z.string().optional(),
  variant: z.string().optional(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
});
export type ImageConfigPlatform = z.infer<typeof ImageConfigPlatform>;

/**
 * The rollout control document (issue 12 §3; docs/rollout.md): an OCI artifact manifest pushed next to the
 * tag as `REPO:TAG.rollout`, whose annotations steer every device's rollout of that tag. Every device HEADs it
 * at every check (free on Docker Hub: the digest alone says whether it changed) and GETs it only when its
 * digest changed, so a change of the document is honoured within one check at the cost of one counted
 * request per device per change. Pure: parsing only.
 *
 *   artifactType: application/vnd.resolver.rollout.v1+json
 *   annotations:
 *     io.resolver.rollout.paused:  "true"                      no device starts a pull of a new child
 *     io.resolver.rollout.blocked: "sha256:…,sha256:…"         these children are never pulled
 *     io.resolver.rollout.step:    "1"                         the ramp is at step 1 (0-based), whatever the clock
 */
import { z } from 'zod';
import { parseJson } from '../json/parse-json.js';
import type { RolloutControl } from './decide.js';

/** What is read of a control document: its annotations, when they are an object (other fields are the manifest's). */
const ControlDoc = z.object({ annotations: z.record(z.string(), z.unknown()).optional().catch(undefined) });

/** The artifact type of a control document. */
export const controlArtifactType = 'application/vnd.resolver.rollout.v1+json';

/** The tag of the control document of `tag` (tags are at most 128 characters; a longer one has none). */
export function controlTag(tag: string): string | undefined {
  const t = `${tag}.rollout`;
  return t.length <= 128 ? t : undefined;
}

/** Annotation keys. */
export const controlKeys = { paused: 'io.resolver.rollout.paused', blocked: 'io.resolver.rollout.blocked', step: 'io.resolver.rollout.step' } as const;

/** Parses a control document's bytes; anything unreadable is an error naming what is wrong. */
export function parseControl(body: Buffer): RolloutControl | { readonly problem: string } {
  const doc = parseJson(ControlDoc, body.toString('utf8'));
  if (!doc.success) return { problem: doc.reason === 'syntax' ? 'not JSON' : 'not a JSON object' };
  const a = doc.data.annotations ?? {};
  const text = (k: string): string | undefined => (typeof a[k] === 'string' ? a[k] : undefined);
  const blocked = (text(controlKeys.blocked) ?? '').split(/[\s,]+/).filter((d) => d !== '');
  const bad = blocked.find((d) => !/^sha256:[0-9a-f]{64}$/.test(d));
  if (bad !== undefined) return { problem: `${controlKeys.blocked} holds "${bad.slice(0, 80)}", not a sha256 digest` };
  const stepText = text(controlKeys.step);
  if (stepText !== undefined && !/^\d{1,2}$/.test(stepText.trim())) return { problem: `${controlKeys.step} is "${stepText.slice(0, 20)}", not a step number (0, 1, 2 …)` };
  return { paused: text(controlKeys.paused)?.trim().toLowerCase() === 'true', blocked, step: stepText === undefined ? undefined : Number(stepText.trim()) };
}

/** The bytes of a control document (tests, and what an operator pushes; docs/rollout.md shows the commands). */
export function controlDocument(c: Partial<RolloutControl>): Buffer {
  const annotations: Record<string, string> = {};
  if (c.paused === true) annotations[controlKeys.paused] = 'true';
  if (c.blocked !== undefined && c.blocked.length > 0) annotations[controlKeys.blocked] = c.blocked.join(',');
  if (c.step !== undefined) annotations[controlKeys.step] = String(c.step);
  return Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: controlArtifactType,
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 },
    layers: [{ mediaType: 'application/vnd.oci.empty.v1+json', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }],
    annotations,
  }));
}

/**
 * Images for the activation e2e tests (activate, activate-window): a runnable busybox child for this host, an
 * arm64 child it never runs, and an index of them published under `stable`.
 */
import type { HttpClient } from '../../src/http/http.js';
import { buildImage, buildIndex, platformObject, type BuiltImage } from '../sandbox/oci-builder.js';
import { Pusher } from '../sandbox/push.js';
import { busyboxRoot } from '../sandbox/samples.js';

/** Nanoseconds, as the engine's HEALTHCHECK durations are. */
export const ns = (ms: number): number => ms * 1_000_000;
/** A HEALTHCHECK that is healthy once /tmp/healthy exists, probed every 300 ms. */
export const healthcheck = { Test: ['CMD-SHELL', 'test -f /tmp/healthy'], Interval: ns(300), Timeout: ns(2000), Retries: 2 };

/** A linux/amd64 busybox child labelled `label` that runs `/bin/sh -c cmd`, with a writable /tmp. */
export async function runnable(label: string, cmd: string, options: { env?: string[]; config?: Record<string, unknown> } = {}): Promise<BuiltImage> {
  const root = await busyboxRoot();
  return buildImage({
    platform: { os: 'linux', architecture: 'amd64' },
    files: [...root, { path: 'tmp', dir: true, mode: 0o1777 }, { path: 'label', content: Buffer.from(label) }],
    cmd: ['/bin/sh', '-c', cmd], env: options.env ?? ['PATH=/bin'], label, config: options.config ?? {}, format: 'oci',
  });
}

/** A linux/arm64/v8 child labelled `label` (never run on this host). */
export const arm = (label: string): BuiltImage => buildImage({ platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, files: [{ path: 'v', content: Buffer.from(label) }], format: 'oci', label });

/** Pushes `children` and an OCI index of them as `host/repository:stable`; the index digest. */
export async function publishStable(http: HttpClient, host: string, repository: string, children: BuiltImage[]): Promise<string> {
  const pusher = new Pusher({ http, host, repository });
  for (const c of children) await pusher.image(c);
  const index = buildIndex(children.map((c) => ({ manifest: c.manifest, platform: platformObject(c.platform) })), 'oci');
  await pusher.manifest(index, 'stable');
  return index.digest;
}

/**
 * The multi-arch test images the harness publishes, each built here from scratch (configs, layers,
 * manifests, indexes). Names are repositories on the anonymous registry; every tag is `latest`.
 */
import type { SampleChild } from '../sandbox/samples.js';

const l = (architecture: string, variant?: string): SampleChild => ({ platform: { os: 'linux', architecture, ...(variant === undefined ? {} : { variant }) } });

/** A test index: its children, format, and whether attestations are added. */
export interface CatalogueEntry {
  readonly repo: string;
  readonly format: 'oci' | 'docker';
  readonly children: readonly SampleChild[];
  readonly attestations?: boolean;
  /** A child index nested under a platform (the `nested` case). */
  readonly nested?: { readonly platform: SampleChild['platform']; readonly children: readonly SampleChild[] };
}

export const catalogue: readonly CatalogueEntry[] = [
  {
    repo: 'multi/docker', format: 'docker',
    children: [l('amd64'), l('arm64', 'v8'), l('arm', 'v7'), l('arm', 'v6'), l('arm', 'v5'), l('386'), l('ppc64le'), l('s390x'),
      { platform: { os: 'windows', architecture: 'amd64', osVersion: '10.0.17763.1' } },
      { platform: { os: 'windows', architecture: 'amd64', osVersion: '10.0.20348.1' } }],
  },
  { repo: 'multi/oci', format: 'oci', attestations: true, children: [l('amd64'), l('amd64', 'v2'), l('amd64', 'v3'), l('arm64'), l('arm', 'v7'), l('riscv64')] },
  { repo: 'levels', format: 'oci', children: [l('amd64'), l('amd64', 'v2'), l('amd64', 'v3'), l('amd64', 'v4')] },
  { repo: 'arm-fallback', format: 'docker', children: [l('amd64', 'v4'), l('arm', 'v6'), l('arm', 'v5')] },
  { repo: 'x386', format: 'docker', children: [l('arm64'), l('386')] },
  { repo: 'noplatform', format: 'oci', children: [{ ...l('amd64'), indexPlatform: 'none' }, l('arm64')] },
  { repo: 'emptyplatform', format: 'oci', children: [l('arm64'), { ...l('amd64'), indexPlatform: 'empty' }] },
  { repo: 'ties', format: 'oci', children: [l('arm64'), l('arm64', 'v8'), l('amd64', 'v1'), l('amd64'), l('x86_64'), l('aarch64')] },
  { repo: 'plain-arm', format: 'docker', children: [l('arm', 'v6'), l('arm'), l('arm', 'v5')] },
  { repo: 'features', format: 'oci', children: [{ platform: { os: 'linux', architecture: 'amd64', osFeatures: ['sse4'] } }, l('amd64'), l('arm64')] },
  { repo: 'nomatch', format: 'oci', attestations: true, children: [l('s390x'), l('mips64le')] },
  {
    repo: 'nested', format: 'oci', children: [l('arm64')],
    nested: { platform: { os: 'linux', architecture: 'amd64' }, children: [l('amd64'), l('386')] },
  },
];

/** Platforms the differential test asks about ('' = no --platform: the host). */
export const oraclePlatforms = ['', 'linux/amd64', 'linux/amd64/v2', 'linux/amd64/v3', 'linux/arm64', 'linux/arm64/v8', 'linux/arm/v7', 'linux/arm/v6', 'linux/arm/v5', 'linux/arm', 'linux/386', 'linux/ppc64le', 'linux/riscv64', 'linux/s390x'];

/**
 * `resolver manifest inspect IMAGE [--raw] [--verbose]`: what a tag points to, as served. Default: the
 * document as indented JSON (like `docker manifest inspect`); `--raw`: the exact bytes the registry served
 * (verified against their digest); `--verbose`: a table of the entries (platform, digest, size, media type).
 */
import type { Command } from 'commander';
import { classifyManifest } from '../../manifest/classify.js';
import { descriptorPlatform } from '../../manifest/select.js';
import { formatPlatformAll } from '../../platform/platform.js';
import { isAttestationEntry, referenceDigestAnnotation } from '../../publish/source-child.js';
import { formatReference, parseReference, withDefaultTag } from '../../reference/reference.js';
import { repositoryOf } from '../../resolver/resolve.js';
import { table, type Output } from '../output.js';
import type { Services } from '../services.js';

/** What inspect found. */
export interface Inspected {
  readonly reference: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly body: Buffer;
}

/** Fetches the document a reference points to, verified. */
export async function run(image: string, services: Services, signal?: AbortSignal): Promise<Inspected> {
  const ref = withDefaultTag(parseReference(image));
  const repo = repositoryOf(ref);
  const digest = ref.digest ?? (await services.registry.resolveTag(repo, ref.tag ?? 'latest', signal)).digest;
  const m = await services.registry.getManifest(repo, digest, signal);
  return { reference: formatReference(ref), digest, mediaType: m.contentType.split(';')[0]?.trim() ?? '', body: m.body };
}

/** The readable form. */
export function describe(x: Inspected): string {
  const doc = classifyManifest(x.body, x.mediaType, x.digest, x.reference);
  const head = [`reference  ${x.reference}`, `digest     ${x.digest}`, `mediaType  ${doc.mediaType}`, `size       ${x.body.byteLength}`];
  if (doc.kind === 'manifest') {
    const rows = [['  KIND', 'DIGEST', 'SIZE', 'MEDIA TYPE'], ['  config', doc.manifest.config.digest, String(doc.manifest.config.size), doc.manifest.config.mediaType]];
    for (const l of doc.manifest.layers) rows.push(['  layer', l.digest, String(l.size), l.mediaType]);
    return [...head, table(rows)].join('\n');
  }
  const rows = [['  PLATFORM', 'DIGEST', 'SIZE', 'MEDIA TYPE']];
  for (const d of doc.index.manifests) {
    const subject = isAttestationEntry(d) ? d.annotations?.[referenceDigestAnnotation] : undefined;
    const label = subject !== undefined ? `attestation of ${subject.slice(0, 19)}` : d.platform === undefined ? '(none)' : formatPlatformAll(descriptorPlatform(d.platform));
    rows.push([`  ${label}`, d.digest, String(d.size), d.mediaType]);
  }
  return [...head, table(rows)].join('\n');
}

async function readSpec(file: string): Promise<import('../../publish/push-spec.js').ManifestSpec> {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  const { ManifestSpec } = await import('../../publish/push-spec.js');
  const { ResolverError } = await import('../../errors.js');
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new ResolverError('ERR_USAGE', `cannot read the spec ${file}: ${error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error)}`);
  }
  const parsed = ManifestSpec.safeParse(doc);
  if (!parsed.success) {
    throw new ResolverError('ERR_USAGE', `invalid spec ${file}`, { details: parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`) });
  }
  return parsed.data;
}

/** Registers `manifest inspect`. */
export function register(program: Command, deps: { output: Output; services: (opts: { insecureRegistries: string[] }) => Services; writeRaw: (bytes: Buffer) => void; signal?: AbortSignal }): void {
  const manifest = program.commands.find((c) => c.name() === 'manifest') ?? program.command('manifest').description('inspect manifests and indexes');
  manifest.exitOverride();
  manifest
    .command('inspect')
    .description('show the manifest or index a reference points to')
    .argument('<image>', 'image reference (tag or digest)')
    .option('--raw', 'print the exact bytes the registry served')
    .option('-v, --verbose', 'print a readable table of the entries')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (image: string, opts: { raw?: boolean; verbose?: boolean; insecureRegistry: string[] }) => {
      const services = deps.services({ insecureRegistries: opts.insecureRegistry });
      try {
        const x = await run(image, services, deps.signal);
        if (opts.raw === true) deps.writeRaw(x.body);
        else if (opts.verbose === true) deps.output.out(describe(x));
        else deps.output.out(JSON.stringify(JSON.parse(x.body.toString('utf8')), null, 3));
      } finally {
        await services.close();
      }
    });

  const drafts = async (): Promise<import('../../publish/drafts.js').DraftStore> => {
    const { DraftStore } = await import('../../publish/drafts.js');
    const { defaultStateDir } = await import('../../state/state-store.js');
    const { homedir } = await import('node:os');
    return new DraftStore(defaultStateDir(process.env, homedir(), process.getuid?.() === 0));
  };

  manifest
    .command('create')
    .description('start (or with --amend extend) a local draft of a manifest list, like docker manifest create')
    .argument('<list>', 'the multi-platform name:tag')
    .argument('<sources...>', 'per-platform images')
    .option('-a, --amend', 'add to an existing draft')
    .action(async (list: string, sources: string[], opts: { amend?: boolean }) => {
      const draft = await (await drafts()).create(list, sources, opts.amend === true);
      deps.output.out(`created draft ${draft.list} with ${draft.entries.length} image${draft.entries.length === 1 ? '' : 's'}`);
    });

  manifest
    .command('annotate')
    .description('set the platform of one image in a draft, like docker manifest annotate')
    .argument('<list>', 'the draft list')
    .argument('<source>', 'an image of the draft')
    .option('--os <os>').option('--arch <arch>').option('--variant <variant>').option('--os-version <version>')
    .option('--os-features <features>', 'comma-separated')
    .action(async (list: string, source: string, opts: { os?: string; arch?: string; variant?: string; osVersion?: string; osFeatures?: string }) => {
      await (await drafts()).annotate(list, source, {
        os: opts.os, architecture: opts.arch, variant: opts.variant, 'os.version': opts.osVersion,
        'os.features': opts.osFeatures?.split(',').filter((f) => f !== ''),
      });
      deps.output.out(`annotated ${source} in ${list}`);
    });

  manifest
    .command('push')
    .description('push a draft list (LIST) or a manifest-tool spec (--from-spec FILE) as one multi-platform index')
    .argument('[list]', 'a draft made with manifest create')
    .option('--from-spec <file>', 'YAML: image: NAME:TAG, tags: [...], manifests: [{image, platform}]')
    .option('--format <format>', 'oci or docker (default: oci when every child is OCI)')
    .option('--no-attestations', 'leave out the attestation manifests of source indexes (buildx provenance/SBOM)')
    .option('-p, --purge', 'remove the draft after a successful push')
    .option('--insecure-registry <host>', 'allow plain HTTP / unverified TLS for this registry (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .action(async (list: string | undefined, opts: { fromSpec?: string; format?: string; attestations: boolean; purge?: boolean; insecureRegistry: string[] }) => {
      const { ResolverError } = await import('../../errors.js');
      if (opts.format !== undefined && opts.format !== 'oci' && opts.format !== 'docker') throw new ResolverError('ERR_USAGE', `--format ${opts.format}: use oci or docker`);
      if ((list === undefined) === (opts.fromSpec === undefined)) throw new ResolverError('ERR_USAGE', 'give either a draft LIST or --from-spec FILE');
      const store = list === undefined ? undefined : await drafts();
      let spec;
      if (opts.fromSpec !== undefined) {
        spec = await readSpec(opts.fromSpec);
      } else {
        const draft = await store?.get(list ?? '');
        if (draft === undefined || store === undefined) throw new ResolverError('ERR_USAGE', `no draft of ${list ?? ''}; run resolver manifest create first`);
        spec = store.toSpec(draft);
      }
      const { pushFromSpec } = await import('../../publish/push-spec.js');
      const services = deps.services({ insecureRegistries: opts.insecureRegistry });
      try {
        const { formatBytes } = await import('../../engine/pull-progress.js');
        const pushed = await pushFromSpec(services.registry, spec, {
          format: opts.format, attestations: opts.attestations, signal: deps.signal,
          onBlob: (e) => deps.output.err(`${e.how.padEnd(15)} ${e.digest} ${formatBytes(e.size)}`),
        });
        if (opts.purge === true && list !== undefined) await store?.remove(list);
        for (const w of pushed.warnings) deps.output.err(`warning: ${w}`);
        const carried = pushed.attestations === 0 ? '' : `; ${pushed.attestations} attestation${pushed.attestations === 1 ? '' : 's'}`;
        deps.output.err(`pushed ${pushed.reference} (${pushed.mediaType}; tags ${pushed.tags.join(', ')}; ${pushed.mounted} blobs mounted, ${pushed.copied} copied${carried})`);
        deps.output.out(pushed.digest);
      } finally {
        await services.close();
      }
    });
}

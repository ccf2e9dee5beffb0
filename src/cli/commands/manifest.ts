/**
 * `resolver manifest inspect|create|annotate|push|rm`, shaped like `docker manifest`.
 *
 * `inspect IMAGE`: what a tag points to, verified. Default: the document as indented JSON (like
 * `docker manifest inspect`); `--raw`: the exact bytes served; `-v/--verbose`: docker's verbose JSON (one
 * object per image: Ref, Descriptor with the platform, Raw as base64, and the parsed OCIManifest or
 * SchemaV2Manifest; an array for an index); `--table`: a readable table of the entries.
 * `--insecure` (inspect, create, push) allows plain HTTP / unverified TLS for the registries named, as
 * docker's flag does.
 */
import type { Command } from 'commander';
import { z } from 'zod';
import { ResolverError } from '../../errors.js';
import { parseJson } from '../../json/parse-json.js';
import { classifyManifest, configPlatform } from '../../manifest/classify.js';
import { isImageManifestMediaType, mediaTypes } from '../../manifest/media-types.js';
import type { Descriptor } from '../../manifest/schema.js';
import { descriptorPlatform } from '../../manifest/select.js';
import { formatPlatformAll } from '../../platform/platform.js';
import { isAttestationEntry, referenceDigestAnnotation } from '../../publish/source-child.js';
import { formatReference, parseReference, registryHost, withDefaultTag, type Reference } from '../../reference/reference.js';
import { repositoryOf } from '../../reference/repository.js';
import type { Draft, DraftPlatform, DraftStore } from '../../publish/drafts.js';
import type { BlobEvent, ManifestSpec, PushedIndex } from '../../publish/push-spec.js';
import type { Registry, RegistryReader } from '../../registry/registry.js';
import { addTimeoutOption, commandTimeoutMs, withinDeadline } from '../deadline.js';
import { addInsecureRegistryOption, commandGroup } from '../options.js';
import { draftsOf, withCommandDeps, type ProgramDeps } from '../command-deps.js';
import { table } from '../output.js';

/** What inspect found. */
export interface Inspected {
  readonly reference: string;
  readonly digest: string;
  readonly mediaType: string;
  readonly body: Buffer;
}

/** Deepest JSON nesting accepted for printing; real manifests nest 4-5 levels. */
export const maxJsonDepth = 1000;

/** The nesting depth of a JSON text (brackets outside strings), without recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Parses a served document for printing.
 * @throws ResolverError ERR_MANIFEST_INVALID when it is not JSON or nests deeper than `maxJsonDepth`.
 */
function parseForPrint(x: Inspected): unknown {
  const text = x.body.toString('utf8');
  const depth = jsonDepth(text);
  if (depth > maxJsonDepth) {
    throw new ResolverError('ERR_MANIFEST_INVALID', `${x.reference} (${x.digest}) nests ${depth} levels deep, more than the ${maxJsonDepth} resolver prints`, { details: ['--raw prints the bytes as served'] });
  }
  const json = parseJson(z.unknown(), text);
  if (!json.success) throw new ResolverError('ERR_MANIFEST_INVALID', `${x.reference} (${x.digest}) is not JSON`, { details: ['--raw prints the bytes as served'] });
  return json.data;
}

/** Fetches the document a reference points to, verified. */
export async function fetchDocument(image: string, registry: RegistryReader, signal?: AbortSignal): Promise<Inspected> {
  const ref = withDefaultTag(parseReference(image));
  const repo = repositoryOf(ref);
  const digest = ref.digest ?? (await registry.resolveTag(repo, ref.tag ?? 'latest', signal)).digest;
  const m = await registry.getManifest(repo, digest, signal);
  return { reference: formatReference(ref), digest, mediaType: m.contentType.split(';')[0]?.trim() ?? '', body: m.body };
}

/** What the manifest commands that read registries need. */
export interface ManifestReadDeps {
  readonly registry: RegistryReader;
  readonly signal?: AbortSignal | undefined;
}

/** Options of `manifest inspect`. */
export interface InspectOptions {
  readonly image: string;
  /** `indented` (docker's default), `raw` (the bytes served), `verbose` (-v), `table`. */
  readonly format: 'indented' | 'raw' | 'verbose' | 'table';
  /** The command's deadline in ms (0: none; src/cli/deadline.ts); default none. */
  readonly timeoutMs?: number;
}

/** `manifest inspect`: what to print (bytes for --raw, else text). */
export function runInspect(options: InspectOptions, deps: ManifestReadDeps): Promise<Buffer | string> {
  const ref = withDefaultTag(parseReference(options.image));
  return withinDeadline(options.timeoutMs ?? 0, deps.signal, `reading ${formatReference(ref)}`, async (signal) => {
    const x = await fetchDocument(options.image, deps.registry, signal);
    switch (options.format) {
      case 'raw':
        return x.body;
      case 'verbose':
        return verbose(x, deps.registry, signal);
      case 'table':
        return describe(x);
      case 'indented':
        return indented(x);
    }
  });
}

/** Options of `manifest create`. */
export interface CreateOptions {
  readonly list: string;
  readonly sources: readonly string[];
  readonly amend?: boolean;
  readonly insecure?: boolean;
  readonly timeoutMs?: number;
}

/** `manifest create`: checks that every image exists (as docker does), then writes the draft. */
export async function runCreate(options: CreateOptions, deps: ManifestReadDeps & { readonly drafts: () => Promise<DraftStore> }): Promise<Draft> {
  const refs = options.sources.map((source) => withDefaultTag(parseReference(source)));
  await withinDeadline(options.timeoutMs ?? 0, deps.signal, `checking the images of ${options.list}`, async (signal) => {
    for (const ref of refs) {
      try {
        await fetchDocument(formatReference(ref), deps.registry, signal);
      } catch (error) {
        if (error instanceof ResolverError && error.code === 'ERR_NOT_FOUND') {
          throw new ResolverError('ERR_NOT_FOUND', `no such manifest: ${formatReference(ref)}`, { cause: error, details: ['push the image first, or check its name and tag'] });
        }
        throw error;
      }
    }
  });
  return (await deps.drafts()).create(options.list, [...options.sources], options.amend === true, options.insecure === true);
}

/**
 * `manifest rm`: deletes each draft; like docker, every list is tried and each failure is one line.
 * @throws ResolverError ERR_REFERENCE_INVALID (a list that is no reference) or ERR_NOT_FOUND (no such draft)
 */
export async function runRm(options: { readonly lists: readonly string[] }, deps: { readonly drafts: () => Promise<DraftStore> }): Promise<void> {
  const store = await deps.drafts();
  const missing: string[] = [];
  const invalid: ResolverError[] = [];
  for (const list of options.lists) {
    let canonical: string;
    try {
      canonical = formatReference(withDefaultTag(parseReference(list)));
    } catch (error) {
      if (!(error instanceof ResolverError)) throw error;
      invalid.push(error);
      continue;
    }
    if (!(await store.remove(list))) missing.push(canonical);
  }
  if (invalid.length > 0 || missing.length > 0) {
    const lines = [...invalid.map((e) => e.message), ...missing.map((m) => `No such manifest: ${m}`)];
    throw new ResolverError(invalid.length > 0 ? 'ERR_REFERENCE_INVALID' : 'ERR_NOT_FOUND', lines[0] ?? '', { details: lines.slice(1) });
  }
}

/** The readable table (`--table`). */
export function describe(x: Inspected): string {
  parseForPrint(x);
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

/**
 * The default output, as `docker manifest inspect`: an image manifest is its own bytes re-indented with tabs
 * (Go's json.Indent: key order and literals kept); an index is re-marshalled with 3 spaces and docker's
 * descriptor order (manifestlist.ManifestDescriptor: mediaType, size, digest, …) and no entry annotations.
 */
export function indented(x: Inspected): string {
  const parsed = parseForPrint(x);
  const doc = classifyManifest(x.body, x.mediaType, x.digest, x.reference);
  if (doc.kind === 'manifest') return goIndent(x.body.toString('utf8'), '\t');
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { manifests?: unknown }).manifests)) return JSON.stringify(parsed, null, 3);
  const list = parsed as Record<string, unknown> & { manifests: Record<string, unknown>[] };
  const manifests = list.manifests.map((d) => {
    // docker's manifestlist types have no per-entry annotations: they are not printed (checked against docker 28).
    const { mediaType, size, digest, annotations: _annotations, ...rest } = d;
    return { mediaType, size, digest, ...rest };
  });
  return JSON.stringify({ ...list, manifests }, null, 3);
}

/** Go's json.Indent(dst, src, "", indent) for valid JSON: tokens kept as written, empty {} and [] compact. */
function goIndent(text: string, indent: string): string {
  let out = '';
  let depth = 0;
  let inString = false;
  let pendingOpen = false;
  const newline = (): string => `\n${indent.repeat(depth)}`;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? '';
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (pendingOpen && c !== ']' && c !== '}') {
      pendingOpen = false;
      depth += 1;
      out += newline();
    }
    if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '{' || c === '[') {
      out += c;
      pendingOpen = true;
    } else if (c === '}' || c === ']') {
      if (pendingOpen) pendingOpen = false;
      else {
        depth -= 1;
        out += newline();
      }
      out += c;
    } else if (c === ',') out += `,${newline()}`;
    else if (c === ':') out += ': ';
    else out += c;
  }
  return out;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** An OCI platform in Go's field order (ocispec.Platform: architecture, os, os.version, os.features, variant). */
function goPlatform(p: Record<string, unknown> | undefined): Record<string, Json> {
  const str = (k: string): string => (typeof p?.[k] === 'string' ? (p[k]) : '');
  const features = Array.isArray(p?.['os.features']) ? (p['os.features'] as unknown[]).filter((f): f is string => typeof f === 'string') : [];
  return {
    architecture: str('architecture'),
    os: str('os'),
    ...(str('os.version') === '' ? {} : { 'os.version': str('os.version') }),
    ...(features.length === 0 ? {} : { 'os.features': features }),
    ...(str('variant') === '' ? {} : { variant: str('variant') }),
  };
}

/** A descriptor inside a manifest, in the field order docker's distribution types marshal. */
function goDescriptor(d: Descriptor): Record<string, Json> {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(d.urls === undefined || d.urls.length === 0 ? {} : { urls: d.urls }),
    ...(d.annotations === undefined || Object.keys(d.annotations).length === 0 ? {} : { annotations: d.annotations }),
    ...(d.platform === undefined ? {} : { platform: goPlatform(d.platform) }),
  };
}

/** One image as `docker manifest inspect -v` prints it (cli/manifest/types.ImageManifest). */
function imageManifestJson(ref: string, body: Buffer, digest: string, mediaType: string, platform: Record<string, Json>, what: string): Record<string, Json> {
  const entry: Record<string, Json> = { Ref: ref, Descriptor: { mediaType, digest, size: body.byteLength, platform }, Raw: body.toString('base64') };
  if (!isImageManifestMediaType(mediaType)) return entry;
  const doc = classifyManifest(body, mediaType, digest, what);
  if (doc.kind !== 'manifest') return entry;
  const m = doc.manifest;
  const parsed: Record<string, Json> = {
    schemaVersion: 2,
    mediaType: doc.mediaType,
    config: goDescriptor(m.config),
    layers: m.layers.map(goDescriptor),
    ...(m.annotations === undefined || Object.keys(m.annotations).length === 0 ? {} : { annotations: m.annotations }),
  };
  entry[doc.mediaType === mediaTypes.dockerManifest ? 'SchemaV2Manifest' : 'OCIManifest'] = parsed;
  return entry;
}

/** JSON the way Go's encoder writes it with MarshalIndent(v, "", "\t"): tabs, and <, >, & escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(value, null, '\t').replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * `manifest inspect -v`: docker's verbose JSON. An image manifest: one object, its platform from the image
 * config. An index: an array with one object per entry, `Ref` = `name:tag@digest`, the platform from the
 * index entry; nested indexes get Ref, Descriptor and Raw only (docker refuses them).
 */
export async function verbose(x: Inspected, registry: RegistryReader, signal?: AbortSignal): Promise<string> {
  parseForPrint(x);
  const ref = parseReference(x.reference);
  const repo = repositoryOf(ref);
  const doc = classifyManifest(x.body, x.mediaType, x.digest, x.reference);
  if (doc.kind === 'manifest') {
    const config = await registry.getBlob(repo, doc.manifest.config.digest, signal);
    const configJson = parseJson(z.record(z.string(), z.unknown()), config.toString('utf8'));
    if (!configJson.success || configPlatform(config) === undefined) {
      throw new ResolverError('ERR_MANIFEST_INVALID', `the image config ${doc.manifest.config.digest} of ${x.reference} is not a JSON object with a platform`);
    }
    return goJson(imageManifestJson(x.reference, x.body, x.digest, doc.mediaType, goPlatform(configJson.data), x.reference));
  }
  const name = formatReference({ ...ref, digest: undefined });
  const entries: Record<string, Json>[] = [];
  for (const d of doc.index.manifests) {
    const child = await registry.getManifest(repo, d.digest, signal, d.size);
    const childText = { reference: `${name}@${d.digest}`, digest: d.digest, mediaType: '', body: child.body };
    parseForPrint(childText);
    const served = child.contentType.split(';')[0]?.trim() ?? '';
    const childDoc = classifyManifest(child.body, served === '' ? d.mediaType : served, d.digest, childText.reference);
    entries.push(imageManifestJson(`${name}@${d.digest}`, child.body, d.digest, childDoc.mediaType, goPlatform(d.platform), childText.reference));
  }
  return goJson(entries);
}

/** The registries an `--insecure` command may reach insecurely: those of the references it names. */
function insecureHosts(refs: readonly Reference[]): string[] {
  return [...new Set(refs.map((r) => registryHost(r)))];
}

/** Largest spec file read (a spec names a few images; this bounds memory for a mistaken path). */
export const maxSpecBytes = 1 << 20;

/**
 * Reads a spec file: a regular file of at most `maxSpecBytes`. Opened non-blocking and checked with fstat
 * first, so a FIFO or a device (`/dev/zero`, `/dev/stdin`) is refused at once instead of hanging or
 * filling memory.
 */
async function readSpecText(file: string): Promise<string> {
  const { open } = await import('node:fs/promises');
  const { constants } = await import('node:fs');
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  try {
    const st = await handle.stat();
    if (st.isDirectory()) throw new ResolverError('ERR_USAGE', `the spec ${file} is a folder, not a file`);
    if (!st.isFile()) throw new ResolverError('ERR_USAGE', `the spec ${file} is not a regular file (a FIFO, socket or device)`, { details: ['write the spec to a file and pass its path'] });
    if (st.size > maxSpecBytes) throw new ResolverError('ERR_USAGE', `the spec ${file} has ${st.size} bytes, more than the ${maxSpecBytes} a spec may have`);
    const buffer = Buffer.alloc(Math.min(st.size, maxSpecBytes) + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxSpecBytes) throw new ResolverError('ERR_USAGE', `the spec ${file} grew past the ${maxSpecBytes} bytes a spec may have`);
      if (length === buffer.length) break;
    }
    return buffer.subarray(0, length).toString('utf8');
  } finally {
    await handle.close();
  }
}

async function readSpec(file: string): Promise<ManifestSpec> {
  const { parse } = await import('yaml');
  const { ManifestSpec } = await import('../../publish/push-spec.js');
  let doc: unknown;
  try {
    doc = parse(await readSpecText(file));
  } catch (error) {
    if (error instanceof ResolverError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : (code ?? (error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error)));
    throw new ResolverError('ERR_USAGE', `cannot read the spec ${file}: ${why}`);
  }
  const parsed = ManifestSpec.safeParse(doc);
  if (!parsed.success) {
    throw new ResolverError('ERR_USAGE', `invalid spec ${file}`, { details: parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`) });
  }
  return parsed.data;
}

/** Options of `manifest annotate`: the draft, its image, and the platform fields to set (the others stay). */
export interface AnnotateOptions {
  readonly list: string;
  readonly source: string;
  readonly platform: DraftPlatform;
}

/** What `manifest annotate` needs: the drafts, and a registry for the image's own platform. */
export interface AnnotateDeps extends ManifestReadDeps {
  readonly drafts: () => Promise<DraftStore>;
}

/** The os/arch of a draft entry's image (from its config) when the draft has none yet; undefined for an index. */
async function imagePlatformForAnnotate(store: DraftStore, options: AnnotateOptions, deps: ManifestReadDeps): Promise<{ os: string; architecture: string } | undefined> {
  const draft = await store.get(options.list);
  const image = formatReference(withDefaultTag(parseReference(options.source)));
  const entry = draft?.entries.find((e) => e.image === image);
  if (entry === undefined || (entry.platform.os !== undefined && entry.platform.architecture !== undefined)) return undefined;
  const ref = withDefaultTag(parseReference(image));
  const x = await fetchDocument(image, deps.registry, deps.signal);
  const doc = classifyManifest(x.body, x.mediaType, x.digest, x.reference);
  if (doc.kind !== 'manifest') return undefined;
  const p = configPlatform(await deps.registry.getBlob(repositoryOf(ref), doc.manifest.config.digest, deps.signal));
  if (p === undefined || p.os === '' || p.architecture === '') return undefined;
  return { os: entry.platform.os ?? p.os, architecture: entry.platform.architecture ?? p.architecture };
}

/**
 * `manifest annotate`: sets the platform of one image of a draft. As docker, the flags change the image's own
 * platform, so `--variant v8` alone keeps the os/arch of the image's config (read from the registry).
 */
export async function runAnnotate(options: AnnotateOptions, deps: AnnotateDeps): Promise<Draft> {
  const store = await deps.drafts();
  const p = options.platform;
  const base = p.os === undefined || p.architecture === undefined ? await imagePlatformForAnnotate(store, options, deps) : undefined;
  return store.annotate(options.list, options.source, { ...p, os: p.os ?? base?.os, architecture: p.architecture ?? base?.architecture });
}

/** Options of `manifest push`: the spec (of `--from-spec FILE`, or of the draft `list`) and how to push it. */
export interface PushCommandOptions {
  readonly spec: ManifestSpec;
  /** The draft the spec came from; removed after the push with `purge`. */
  readonly list?: string | undefined;
  readonly format?: 'oci' | 'docker' | undefined;
  readonly attestations: boolean;
  readonly purge?: boolean | undefined;
}

/** What `manifest push` needs: a registry to read the images from and write the list to, and the drafts. */
export interface PushCommandDeps {
  readonly registry: Registry;
  readonly drafts: () => Promise<DraftStore>;
  /** Hears each blob as it is mounted or copied (the progress lines). */
  readonly onBlob?: ((event: BlobEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** `manifest push`: pushes the spec as one index (and its tags); with `purge`, then removes the draft. */
export async function runPush(options: PushCommandOptions, deps: PushCommandDeps): Promise<PushedIndex> {
  const { pushFromSpec } = await import('../../publish/push-spec.js');
  const pushed = await pushFromSpec(deps.registry, options.spec, { format: options.format, attestations: options.attestations, signal: deps.signal, onBlob: deps.onBlob });
  if (options.purge === true && options.list !== undefined) await (await deps.drafts()).remove(options.list);
  return pushed;
}

/**
 * What `manifest push LIST|--from-spec FILE` pushes, read and checked at the boundary: the spec, and the
 * registries it may reach insecurely (those of the list and its images, with `--insecure` or a draft made so).
 */
async function pushInput(list: string | undefined, fromSpec: string | undefined, insecure: boolean, drafts: () => Promise<DraftStore>): Promise<{ spec: ManifestSpec; insecureHosts: string[] }> {
  if ((list === undefined) === (fromSpec === undefined)) throw new ResolverError('ERR_USAGE', 'give either a draft LIST or --from-spec FILE');
  let spec: ManifestSpec;
  let anyInsecure = insecure;
  if (fromSpec !== undefined) {
    spec = await readSpec(fromSpec);
  } else {
    const store = await drafts();
    const draft = await store.get(list ?? '');
    if (draft === undefined) throw new ResolverError('ERR_USAGE', `no draft of ${list ?? ''}; run resolver manifest create first`);
    spec = store.toSpec(draft);
    anyInsecure ||= draft.insecure === true;
  }
  if (!anyInsecure) return { spec, insecureHosts: [] };
  const { parseSpecReferences } = await import('../../publish/push-spec.js');
  const refs = parseSpecReferences(spec);
  return { spec, insecureHosts: insecureHosts([refs.target, ...refs.entries.map((e) => e.ref)]) };
}

/** Registers `manifest inspect|create|annotate|push|rm`. */
export function register(program: Command, deps: ProgramDeps): void {
  const manifest = commandGroup(program, 'manifest', 'inspect, draft, push and remove manifest lists (like docker manifest)');
  const inspect = manifest
    .command('inspect')
    .description('show the manifest or index a reference points to')
    .argument('<image>', 'image reference (tag or digest)')
    .option('--raw', 'print the exact bytes the registry served')
    .option('-v, --verbose', 'docker\'s verbose JSON: per image Ref, Descriptor (with platform), Raw and the parsed manifest')
    .option('--table', 'print a readable table of the entries (or of a manifest\'s config and layers)')
    .option('--insecure', 'allow plain HTTP / unverified TLS for the registry of IMAGE');
  addTimeoutOption(addInsecureRegistryOption(inspect), 'reading IMAGE');
  inspect.action(async (image: string, opts: { raw?: boolean; verbose?: boolean; table?: boolean; insecure?: boolean; insecureRegistry: string[]; timeout?: number }) => {
    if ([opts.raw, opts.verbose, opts.table].filter((o) => o === true).length > 1) throw new ResolverError('ERR_USAGE', 'give at most one of --raw, --verbose and --table');
    const ref = parseReference(image);
    const timeoutMs = commandTimeoutMs(opts.timeout, deps.process.env);
    const format = opts.raw === true ? 'raw' : opts.verbose === true ? 'verbose' : opts.table === true ? 'table' : 'indented';
    const insecure = [...opts.insecureRegistry, ...(opts.insecure === true ? insecureHosts([ref]) : [])];
    const printed = await withCommandDeps(deps, insecure, (d) => runInspect({ image, format, timeoutMs }, d));
    if (Buffer.isBuffer(printed)) deps.io.stdout.write(printed);
    else deps.output.out(printed);
  });

  const create = manifest
    .command('create')
    .description('start (or with --amend extend) a local draft of a manifest list, like docker manifest create')
    .argument('<list>', 'the multi-platform name:tag')
    .argument('<sources...>', 'per-platform images')
    .option('-a, --amend', 'add to an existing draft')
    .option('--insecure', 'allow plain HTTP / unverified TLS for these registries when the draft is pushed');
  addTimeoutOption(create, 'checking that the images exist');
  create.action(async (list: string, sources: string[], opts: { amend?: boolean; insecure?: boolean; timeout?: number }) => {
    // As docker manifest create: every image must exist (one HEAD, or GET by digest, each) before a draft is written.
    const refs = sources.map((source) => withDefaultTag(parseReference(source)));
    const timeoutMs = commandTimeoutMs(opts.timeout, deps.process.env);
    const options = { list, sources, amend: opts.amend === true, insecure: opts.insecure === true, timeoutMs };
    const draft = await withCommandDeps(deps, opts.insecure === true ? insecureHosts(refs) : [], (d) => runCreate(options, d));
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
      // The image's registry is insecure when the draft was made with --insecure.
      const draft = await (await draftsOf(deps.process)()).get(list);
      const hosts = draft?.insecure === true ? insecureHosts([withDefaultTag(parseReference(source))]) : [];
      const platform = { os: opts.os, architecture: opts.arch, variant: opts.variant, 'os.version': opts.osVersion, 'os.features': opts.osFeatures?.split(',').filter((f) => f !== '') };
      const options = { list, source, platform };
      await withCommandDeps(deps, hosts, (d) => runAnnotate(options, d), { lazy: true });
      deps.output.out(`annotated ${source} in ${list}`);
    });

  manifest
    .command('rm')
    .description('delete local drafts of manifest lists, like docker manifest rm')
    .argument('<lists...>', 'the drafts to delete')
    .action((lists: string[]) => withCommandDeps(deps, [], (d) => runRm({ lists }, d), { lazy: true }));

  const push = manifest
    .command('push')
    .description('push a draft list (LIST) or a manifest-tool spec (--from-spec FILE) as one multi-platform index')
    .argument('[list]', 'a draft made with manifest create')
    .option('--from-spec <file>', 'YAML: image: NAME:TAG, tags: [...], manifests: [{image, platform}]')
    .option('--format <format>', 'oci or docker (default: oci when every child is OCI)')
    .option('--no-attestations', 'leave out the attestation manifests of source indexes (buildx provenance/SBOM)')
    .option('-p, --purge', 'remove the draft after a successful push')
    .option('--insecure', 'allow plain HTTP / unverified TLS for the registries of the list and its images');
  addInsecureRegistryOption(push);
  push.action(async (list: string | undefined, opts: { fromSpec?: string; format?: string; attestations: boolean; purge?: boolean; insecure?: boolean; insecureRegistry: string[] }) => {
    const format = opts.format;
    if (format !== undefined && format !== 'oci' && format !== 'docker') throw new ResolverError('ERR_USAGE', `--format ${format}: use oci or docker`);
    const { spec, insecureHosts: hosts } = await pushInput(list, opts.fromSpec, opts.insecure === true, draftsOf(deps.process));
    const { formatBytes } = await import('../format-bytes.js');
    const pushed = await withCommandDeps(deps, [...opts.insecureRegistry, ...hosts], (d) =>
      runPush({ spec, list, format, attestations: opts.attestations, purge: opts.purge }, { ...d, onBlob: (e) => deps.output.err(`${e.how.padEnd(15)} ${e.digest} ${formatBytes(e.size)}`) }));
    for (const w of pushed.warnings) deps.output.err(`warning: ${w}`);
    const carried = pushed.attestations === 0 ? '' : `; ${pushed.attestations} attestation${pushed.attestations === 1 ? '' : 's'}`;
    deps.output.err(`pushed ${pushed.reference} (${pushed.mediaType}; tags ${pushed.tags.join(', ')}; ${pushed.mounted} blobs mounted, ${pushed.copied} copied${carried})`);
    deps.output.out(pushed.digest);
  });
}

/**
 * The docker CLI's manifest-list workflow (`manifest create LIST SOURCE… [--amend] [--insecure]`, `annotate`,
 * `push LIST`, `rm LIST…`) with the draft kept as JSON in the state folder, one file per list. A push turns
 * the draft into a spec and goes through `pushFromSpec` (mounts, platform checks).
 *
 * File names are injective (issue 13.8): `manifests/<sha256 of the canonical reference>.json`, and the file
 * holds the reference; a file whose reference is not the one asked for is an error, never used. Drafts of
 * earlier versions were named by the reference with every character outside `[A-Za-z0-9._-]` replaced by
 * `_` (so `a/b:v1` and `a_b:v1` shared one file, as they do in docker's own manifest store); such a file is
 * still read when the reference inside it is the one asked for, and moved to the new name on the next write.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { parseJson } from '../json/parse-json.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import { writeFileDurable } from '../state/durable-file.js';
import { PlatformField, type ManifestSpec } from './push-spec.js';

/** The platform fields of a draft entry (`manifest annotate`'s flags). */
export const DraftPlatform = z.object({ os: PlatformField.optional(), architecture: PlatformField.optional(), variant: PlatformField.optional(), 'os.version': PlatformField.optional(), 'os.features': z.array(z.string()).optional() });
export type DraftPlatform = z.infer<typeof DraftPlatform>;

const flagNames: Readonly<Record<string, string>> = { architecture: 'arch', 'os.version': 'os-version', 'os.features': 'os-features' };

/** The os/arch pairs `docker manifest annotate` accepts (cli/command/manifest/util.go, validOSArches). */
export const validOsArches: Readonly<Record<string, readonly string[]>> = {
  darwin: ['386', 'amd64', 'arm', 'arm64'],
  dragonfly: ['amd64'],
  freebsd: ['386', 'amd64', 'arm'],
  linux: ['386', 'amd64', 'arm', 'arm64', 'ppc64le', 'mips64', 'mips64le', 'riscv64', 's390x'],
  netbsd: ['386', 'amd64', 'arm'],
  openbsd: ['386', 'amd64', 'arm'],
  plan9: ['386', 'amd64'],
  solaris: ['amd64'],
  windows: ['386', 'amd64', 'arm', 'arm64'],
};

/** Refuses an --os/--arch docker would refuse, naming the valid forms (armv7 is --arch arm --variant v7). */
function checkOsArch(source: string, os: string | undefined, architecture: string | undefined): void {
  if (os === undefined && architecture === undefined) return;
  const ok = os === undefined
    ? Object.values(validOsArches).some((arches) => arches.includes(architecture ?? ''))
    : (validOsArches[os] ?? []).includes(architecture ?? (validOsArches[os]?.[0] ?? ''));
  if (ok) return;
  throw new ResolverError('ERR_PLATFORM_INVALID', `manifest entry for ${source} has unsupported os/arch combination: ${os ?? ''}/${architecture ?? ''}`, {
    details: [
      'give the variant on its own: --arch arm --variant v7, --arch arm64 --variant v8',
      `valid --os/--arch pairs: ${Object.entries(validOsArches).map(([o, a]) => `${o}/${a.join('|')}`).join(', ')}`,
    ],
  });
}

/** A draft list. */
export const Draft = z.object({
  list: z.string(),
  entries: z.array(z.object({ image: z.string(), platform: DraftPlatform.default({}) })),
  /** `create --insecure`: the push may use plain HTTP / unverified TLS for the registries involved. */
  insecure: z.boolean().optional(),
});
export type Draft = z.infer<typeof Draft>;

function canonical(ref: string): string {
  return formatReference(withDefaultTag(parseReference(ref)));
}

/** Drafts under `<stateDir>/manifests/`. */
export class DraftStore {
  readonly #dir: string;

  constructor(stateDir: string) {
    this.#dir = join(stateDir, 'manifests');
  }

  #file(list: string): string {
    return join(this.#dir, `${createHash('sha256').update(canonical(list)).digest('hex')}.json`);
  }

  /** The name drafts had before 0.2 (not injective). */
  #legacyFile(list: string): string {
    return join(this.#dir, `${canonical(list).replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  async #read(file: string, list: string): Promise<Draft | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      if (code === 'ENOTDIR') throw new ResolverError('ERR_USAGE', `cannot read the draft of ${canonical(list)}: a part of ${this.#dir} is not a folder`, { details: ['set RESOLVER_STATE_DIR to a folder resolver may create'] });
      throw new ResolverError('ERR_USAGE', `cannot read the draft of ${canonical(list)} (${file}): ${code ?? String(error)}`);
    }
    const parsed = parseJson(Draft, text);
    if (!parsed.success) {
      throw new ResolverError('ERR_USAGE', `the draft of ${canonical(list)} is unreadable (${file} is not a draft)`, { details: [`remove it with: resolver manifest rm ${canonical(list)}`] });
    }
    return parsed.data;
  }

  /** The draft of a list, if any. */
  async get(list: string): Promise<Draft | undefined> {
    const want = canonical(list);
    const draft = await this.#read(this.#file(list), list);
    if (draft !== undefined) {
      if (draft.list !== want) {
        throw new ResolverError('ERR_USAGE', `the draft file ${this.#file(list)} holds ${draft.list}, not ${want}`, { details: [`remove it with: resolver manifest rm ${want}`] });
      }
      return draft;
    }
    // A draft of an earlier version counts only when it is this list's (its name may be another list's).
    let legacy: Draft | undefined;
    try {
      legacy = await this.#read(this.#legacyFile(list), list);
    } catch {
      return undefined;
    }
    return legacy?.list === want ? legacy : undefined;
  }

  /** `create`: a new draft, or more entries with `amend`; `insecure` is kept for the push (`create --insecure`). */
  async create(list: string, sources: readonly string[], amend: boolean, insecure = false): Promise<Draft> {
    const existing = await this.get(list);
    if (existing !== undefined && !amend) {
      throw new ResolverError('ERR_USAGE', `a draft of ${canonical(list)} already exists`, { details: ['add --amend to extend it, or push it first'] });
    }
    const entries = [...(existing?.entries ?? [])];
    for (const source of sources) {
      const image = canonical(source);
      if (!entries.some((e) => e.image === image)) entries.push({ image, platform: {} });
    }
    const draft: Draft = { list: canonical(list), entries, ...(insecure || existing?.insecure === true ? { insecure: true } : {}) };
    await this.#save(draft);
    return draft;
  }

  /** `annotate`: sets platform fields of one entry. */
  async annotate(list: string, source: string, platform: DraftPlatform): Promise<Draft> {
    const checked = DraftPlatform.safeParse(platform);
    if (!checked.success) {
      throw new ResolverError('ERR_PLATFORM_INVALID', `annotate ${source}: ${checked.error.issues.map((i) => `--${flagNames[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; ')}`);
    }
    checkOsArch(source, platform.os, platform.architecture);
    const draft = await this.get(list);
    if (draft === undefined) throw new ResolverError('ERR_USAGE', `no draft of ${canonical(list)}; run resolver manifest create first`);
    const image = canonical(source);
    const entry = draft.entries.find((e) => e.image === image);
    if (entry === undefined) throw new ResolverError('ERR_USAGE', `${image} is not in the draft of ${draft.list}`, { details: [`entries: ${draft.entries.map((e) => e.image).join(', ')}`] });
    entry.platform = { ...entry.platform, ...Object.fromEntries(Object.entries(platform as Record<string, unknown>).filter(([, v]) => v !== undefined)) };
    await this.#save(draft);
    return draft;
  }

  /** The spec a draft pushes as. Annotated platforms need os and architecture; the rest come from configs. */
  toSpec(draft: Draft): ManifestSpec {
    return {
      image: draft.list,
      tags: [],
      manifests: draft.entries.map((e) => {
        const p = e.platform;
        if (p.os === undefined && p.architecture === undefined) return { image: e.image };
        if (p.os === undefined || p.architecture === undefined) {
          throw new ResolverError('ERR_USAGE', `${e.image}: annotate both --os and --arch, or neither (then the image's config decides)`);
        }
        return { image: e.image, platform: { os: p.os, architecture: p.architecture, ...(p.variant === undefined ? {} : { variant: p.variant }), ...(p['os.version'] === undefined ? {} : { 'os.version': p['os.version'] }), ...(p['os.features'] === undefined ? {} : { 'os.features': p['os.features'] }) } };
      }),
    };
  }

  /**
   * Removes the draft of a list (also an unreadable one, and one of an earlier version that holds this list).
   * @returns false when there was none.
   */
  async remove(list: string): Promise<boolean> {
    const want = canonical(list);
    let found = false;
    try {
      await rm(this.#file(list));
      found = true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
    }
    const legacy = await this.#read(this.#legacyFile(list), list).catch(() => undefined);
    if (legacy?.list === want) {
      await rm(this.#legacyFile(list), { force: true });
      found = true;
    }
    return found;
  }

  async #save(draft: Draft): Promise<void> {
    try {
      await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new ResolverError('ERR_USAGE', `cannot create the draft folder ${this.#dir}: ${code === 'ENOTDIR' || code === 'EEXIST' ? 'a part of it is a file, not a folder' : (code ?? String(error))}`, {
        details: ['set RESOLVER_STATE_DIR to a folder resolver may create'],
      });
    }
    await writeFileDurable(this.#file(draft.list), `${JSON.stringify(draft, null, 2)}\n`);
    // A draft of an earlier version that held this list is now superseded.
    const legacy = this.#legacyFile(draft.list);
    if (legacy !== this.#file(draft.list)) {
      const old = await this.#read(legacy, draft.list).catch(() => undefined);
      if (old?.list === draft.list) await rm(legacy, { force: true });
    }
  }
}

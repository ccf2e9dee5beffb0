/**
 * The docker CLI's manifest-list workflow (`manifest create LIST SOURCE… [--amend]`, `annotate`, `push LIST`)
 * with the draft kept as JSON in the state folder, one file per list. A push turns the draft into a spec and
 * goes through `pushFromSpec` (mounts, platform checks).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { formatReference, parseReference, withDefaultTag } from '../reference/reference.js';
import { writeFileDurable } from '../state/durable-file.js';
import { PlatformField, type ManifestSpec } from './push-spec.js';

const DraftPlatform = z.object({ os: PlatformField.optional(), architecture: PlatformField.optional(), variant: PlatformField.optional(), 'os.version': PlatformField.optional(), 'os.features': z.array(z.string()).optional() });

const flagNames: Readonly<Record<string, string>> = { architecture: 'arch', 'os.version': 'os-version', 'os.features': 'os-features' };

/** A draft list. */
export const Draft = z.object({ list: z.string(), entries: z.array(z.object({ image: z.string(), platform: DraftPlatform.default({}) })) });
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
    return join(this.#dir, `${canonical(list).replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  /** The draft of a list, if any. */
  async get(list: string): Promise<Draft | undefined> {
    let text: string;
    try {
      text = await readFile(this.#file(list), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = Draft.safeParse(JSON.parse(text));
    if (!parsed.success) throw new ResolverError('ERR_USAGE', `the draft of ${canonical(list)} is unreadable; remove ${this.#file(list)}`);
    return parsed.data;
  }

  /** `create`: a new draft, or more entries with `amend`. */
  async create(list: string, sources: readonly string[], amend: boolean): Promise<Draft> {
    const existing = await this.get(list);
    if (existing !== undefined && !amend) {
      throw new ResolverError('ERR_USAGE', `a draft of ${canonical(list)} already exists`, { details: ['add --amend to extend it, or push it first'] });
    }
    const entries = [...(existing?.entries ?? [])];
    for (const source of sources) {
      const image = canonical(source);
      if (!entries.some((e) => e.image === image)) entries.push({ image, platform: {} });
    }
    const draft = { list: canonical(list), entries };
    await this.#save(draft);
    return draft;
  }

  /** `annotate`: sets platform fields of one entry. */
  async annotate(list: string, source: string, platform: z.infer<typeof DraftPlatform>): Promise<Draft> {
    const checked = DraftPlatform.safeParse(platform);
    if (!checked.success) {
      throw new ResolverError('ERR_PLATFORM_INVALID', `annotate ${source}: ${checked.error.issues.map((i) => `--${flagNames[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; ')}`);
    }
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

  /** Removes a draft. */
  async remove(list: string): Promise<void> {
    await rm(this.#file(list), { force: true });
  }

  async #save(draft: Draft): Promise<void> {
    await mkdir(this.#dir, { recursive: true, mode: 0o700 });
    await writeFileDurable(this.#file(draft.list), `${JSON.stringify(draft, null, 2)}\n`);
  }
}

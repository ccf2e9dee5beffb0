import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DraftStore } from '../../publish/drafts.js';
import { FakeRegistry } from '../../../test/fakes/fake-registry.js';
import { expectResolverError } from '../../../test/fakes/expect-error.js';
import { runAnnotate, runCreate, runInspect, runPush, runRm } from './manifest.js';

const image = 'localhost:5001/fleet/app:stable';

function setup(): { registry: FakeRegistry; store: DraftStore; drafts: () => Promise<DraftStore> } {
  const registry = new FakeRegistry();
  const store = new DraftStore(mkdtempSync(join(tmpdir(), 'manifest-cmd-')));
  return { registry, store, drafts: () => Promise.resolve(store) };
}

describe('manifest inspect: runInspect(options, deps)', () => {
  it('raw is the bytes served; indented is docker\'s 3-space index; table lists the entries', async () => {
    const { registry } = setup();
    const { children } = registry.publish(image, [{ architecture: 'amd64', label: 'a' }, { architecture: 'arm64', variant: 'v8', label: 'b' }]);
    const raw = await runInspect({ image, format: 'raw' }, { registry: registry.asClient() });
    expect(Buffer.isBuffer(raw)).toBe(true);
    const parsed = JSON.parse(raw.toString()) as { manifests: { digest: string }[] };
    expect(parsed.manifests.map((m) => m.digest)).toEqual(children);
    const indented = await runInspect({ image, format: 'indented' }, { registry: registry.asClient() });
    expect(indented).toMatch(/^\{\n {3}"schemaVersion": 2,/);
    const table = await runInspect({ image, format: 'table' }, { registry: registry.asClient() });
    expect(table).toContain(`reference  ${image}`);
    expect(table).toMatch(/linux\/arm64\/v8 +sha256:/);
  });

  it('an unknown tag is ERR_NOT_FOUND; a registry that never answers ends at the deadline', async () => {
    const { registry } = setup();
    await expectResolverError(runInspect({ image, format: 'raw' }, { registry: registry.asClient() }), 'ERR_NOT_FOUND');
    registry.publish(image, [{ architecture: 'amd64', label: 'a' }]);
    registry.hooks.set('localhost:5001', (_repo, _what, signal) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(new Error('aborted')))));
    const e = await expectResolverError(runInspect({ image, format: 'indented', timeoutMs: 50 }, { registry: registry.asClient() }), 'ERR_NETWORK');
    expect(e.message).toContain("(the command's deadline)");
  });
});

describe('manifest inspect --verbose of an image whose config is hostile', () => {
  it.each([['not JSON', 'this is not JSON'], ['a list', '[{"architecture":"amd64","os":"linux"}]']])('a config that is %s: ERR_MANIFEST_INVALID naming the config', async (_what, text) => {
    const { registry } = setup();
    const repo = { host: 'localhost:5001', path: 'fleet/app' } as Parameters<typeof registry.pushBlob>[0];
    const config = Buffer.from(text);
    const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
    await registry.pushBlob(repo, configDigest, config);
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.byteLength }, layers: [] }));
    await registry.putManifest(repo, 'odd', 'application/vnd.oci.image.manifest.v1+json', manifest);
    const e = await expectResolverError(runInspect({ image: 'localhost:5001/fleet/app:odd', format: 'verbose' }, { registry: registry.asClient() }), 'ERR_MANIFEST_INVALID');
    expect(e.message).toBe(`the image config ${configDigest} of localhost:5001/fleet/app:odd is not a JSON object with a platform`);
  });
});

describe('manifest create and rm: runCreate / runRm(options, deps)', () => {
  it('create checks every image first: a missing one is ERR_NOT_FOUND and no draft is written', async () => {
    const { registry, store, drafts } = setup();
    registry.publish('localhost:5001/fleet/app:amd64', [{ architecture: 'amd64', label: 'a' }]);
    const e = await expectResolverError(runCreate({ list: image, sources: ['localhost:5001/fleet/app:amd64', 'localhost:5001/fleet/app:gone'] }, { registry: registry.asClient(), drafts }), 'ERR_NOT_FOUND');
    expect(e.message).toBe('no such manifest: localhost:5001/fleet/app:gone');
    expect(await store.get(image)).toBeUndefined();
  });

  it('create writes the draft with its images; rm deletes it, then says it is gone', async () => {
    const { registry, store, drafts } = setup();
    registry.publish('localhost:5001/fleet/app:amd64', [{ architecture: 'amd64', label: 'a' }]);
    const draft = await runCreate({ list: image, sources: ['localhost:5001/fleet/app:amd64'], insecure: true }, { registry: registry.asClient(), drafts });
    expect(draft.entries.map((x) => x.image)).toEqual(['localhost:5001/fleet/app:amd64']);
    expect((await store.get(image))?.insecure).toBe(true);
    await runRm({ lists: [image] }, { drafts });
    expect(await store.get(image)).toBeUndefined();
    const gone = await expectResolverError(runRm({ lists: [image] }, { drafts }), 'ERR_NOT_FOUND');
    expect(gone.message).toBe(`No such manifest: ${image}`);
  });

  it('rm tries every list: an invalid one is ERR_REFERENCE_INVALID, with one line per failure', async () => {
    const { drafts } = setup();
    const e = await expectResolverError(runRm({ lists: ['UPPER/Case', image] }, { drafts }), 'ERR_REFERENCE_INVALID');
    expect(e.details).toEqual([`No such manifest: ${image}`]);
  });
});

describe('manifest annotate and push: runAnnotate / runPush(options, deps)', () => {
  it('annotate --variant alone keeps the os/arch of the image\'s config (as docker); all flags need no registry; no draft is an error', async () => {
    const { registry, store, drafts } = setup();
    const child = registry.publish('localhost:5001/fleet/app:arm64', [{ architecture: 'arm64', label: 'b' }]).children[0] ?? '';
    const source = `localhost:5001/fleet/app@${child}`;
    await runCreate({ list: image, sources: [source] }, { registry: registry.asClient(), drafts });
    const draft = await runAnnotate({ list: image, source, platform: { variant: 'v8' } }, { registry: registry.asClient(), drafts });
    expect(draft.entries[0]?.platform).toMatchObject({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(registry.log.at(-1)).toMatch(/^GET blob localhost:5001\/fleet\/app@sha256:/);
    const asked = registry.log.length;
    const again = await runAnnotate({ list: image, source, platform: { os: 'linux', architecture: 'arm', variant: 'v7', 'os.features': ['a'] } }, { registry: registry.asClient(), drafts });
    expect(again.entries[0]?.platform).toMatchObject({ os: 'linux', architecture: 'arm', variant: 'v7', 'os.features': ['a'] });
    expect(registry.log).toHaveLength(asked);
    await expectResolverError(runAnnotate({ list: 'localhost:5001/fleet/none:1', source, platform: { os: 'linux', architecture: 'arm64' } }, { registry: registry.asClient(), drafts }));
    expect(await store.get('localhost:5001/fleet/none:1')).toBeUndefined();
  });

  it('push writes one index under the list\'s tag from the draft\'s images, then --purge removes the draft', async () => {
    const { registry, store, drafts } = setup();
    const amd = registry.publish('localhost:5001/fleet/app:amd64', [{ architecture: 'amd64', label: 'a' }]);
    const arm = registry.publish('localhost:5001/fleet/app:arm64', [{ architecture: 'arm64', variant: 'v8', label: 'b' }]);
    await runCreate({ list: image, sources: ['localhost:5001/fleet/app:amd64', 'localhost:5001/fleet/app:arm64'] }, { registry: registry.asClient(), drafts });
    const draft = await store.get(image);
    if (draft === undefined) throw new Error('no draft');
    const blobs: string[] = [];
    const pushed = await runPush({ spec: store.toSpec(draft), list: image, attestations: true, purge: true }, { registry: registry.asClient(), drafts, onBlob: (e) => void blobs.push(e.how) });
    expect(pushed).toMatchObject({ reference: image, tags: ['stable'] });
    expect(blobs.every((how) => how === 'present')).toBe(true);
    const index = JSON.parse((await runInspect({ image, format: 'raw' }, { registry: registry.asClient() })).toString()) as { manifests: { digest: string }[] };
    expect(index.manifests.map((m) => m.digest).sort()).toEqual([...amd.children, ...arm.children].sort());
    expect(await store.get(image)).toBeUndefined();
  });
});

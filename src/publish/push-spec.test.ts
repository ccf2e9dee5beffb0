import { describe, expect, it } from 'vitest';
import { expectResolverErrorSync } from '../../test/fakes/expect-error.js';
import { inPool, ManifestSpec, parseSpecReferences } from './push-spec.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('inPool', () => {
  it('runs at most `limit` at once and every item once', async () => {
    let running = 0;
    let peak = 0;
    const seen: number[] = [];
    await inPool([1, 2, 3, 4, 5, 6, 7, 8, 9], 4, undefined, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await tick(5);
      seen.push(n);
      running--;
    });
    expect(peak).toBe(4);
    expect(seen.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('throws the first failure, aborts the work in flight and starts no more', async () => {
    const started: number[] = [];
    const aborted: number[] = [];
    const run = inPool([1, 2, 3, 4, 5, 6], 2, undefined, async (n, signal) => {
      started.push(n);
      if (n === 2) throw new Error('blob 2 failed');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        signal.addEventListener('abort', () => {
          clearTimeout(t);
          aborted.push(n);
          resolve();
        });
      });
    });
    await expect(run).rejects.toThrow('blob 2 failed');
    expect(started).toEqual([1, 2]);
    expect(aborted).toEqual([1]);
  });

  it('hands a caller signal that was aborted before the start to the work', async () => {
    const outer = new AbortController();
    outer.abort(new Error('too late'));
    let ran = 0;
    await expect(inPool([1, 2], 2, outer.signal, (_n, signal) => {
      ran++;
      return signal.aborted ? Promise.reject(new Error('too late')) : Promise.resolve();
    })).rejects.toThrow('too late');
    expect(ran).toBe(2);
  });

  it('passes the caller’s abort on', async () => {
    const outer = new AbortController();
    const run = inPool([1], 1, outer.signal, (_n, signal) => new Promise<void>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('stopped')))));
    outer.abort();
    await expect(run).rejects.toThrow('stopped');
  });
});

describe('the spec, checked before any request', () => {
  const spec = (over: Record<string, unknown>): ManifestSpec => ManifestSpec.parse({ image: 'reg:5000/app:1', manifests: [{ image: 'reg:5000/app-amd64:1' }], ...over });
  it('normalises the references and keeps entries in order', () => {
    const { target, entries } = parseSpecReferences(spec({ manifests: [{ image: 'reg:5000/a' }, { image: 'alpine@sha256:' + 'a'.repeat(64) }] }));
    expect(target).toMatchObject({ domain: 'reg:5000', path: 'app', tag: '1' });
    expect(entries.map((e) => [e.entry.image, e.ref.path, e.ref.tag ?? null, e.ref.digest ?? null])).toEqual([
      ['reg:5000/a', 'a', 'latest', null],
      ['alpine@sha256:' + 'a'.repeat(64), 'library/alpine', null, 'sha256:' + 'a'.repeat(64)],
    ]);
  });

  it('refuses a target by digest, a bad extra tag, and names a bad entry', () => {
    const digest = expectResolverErrorSync(() => parseSpecReferences(spec({ image: 'reg:5000/app@sha256:' + '0'.repeat(64) })), 'ERR_USAGE');
    expect(digest.message).toMatch(/names a digest; an index is pushed under a tag/);
    expect(expectResolverErrorSync(() => parseSpecReferences(spec({ tags: ['ok', 'bad tag!'] })), 'ERR_USAGE').message).toBe('tags[1]: "bad tag!" is not a valid tag');
    const entry = expectResolverErrorSync(() => parseSpecReferences(spec({ manifests: [{ image: 'reg:5000/ok' }, { image: 'reg:5000/Upper:1' }] })), 'ERR_REFERENCE_INVALID');
    expect(entry.message).toMatch(/^manifests\[1\]: invalid reference "reg:5000\/Upper:1"/);
  });

  it('takes one word per platform field', () => {
    const bad = ManifestSpec.safeParse({ image: 'a:1', manifests: [{ image: 'b:1', platform: { os: 'linux', architecture: 'arm/v7' } }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/not linux\/arm\/v7/);
    expect(ManifestSpec.safeParse({ image: 'a:1', manifests: [{ image: 'b:1', platform: { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1879' } }] }).success).toBe(true);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readdir, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { removeOrphans, writeFileDurable } from './durable-file.js';
import { defaultStateDir, StateStore, type ImageRecord } from './state-store.js';

const record = (child: string): ImageRecord => ({
  reference: 'localhost:5000/app:latest', platform: 'linux/amd64', registry: 'localhost:5000', indexDigest: 'sha256:i',
  childDigest: child, imageId: 'sha256:c', pulledAt: '2026-11-29T00:00:00.000Z', checkedAt: '2026-11-29T00:00:00.000Z', previousChildren: [],
});

describe('StateStore', () => {
  it('round-trips records and writes only on change', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const store = new StateStore(dir, () => undefined);
    await store.put(record('sha256:a'));
    const first = await readFile(store.path, 'utf8');
    await store.put(record('sha256:a'));
    expect(await readFile(store.path, 'utf8')).toBe(first);
    const again = new StateStore(dir, () => undefined);
    expect((await again.get('localhost:5000/app:latest', 'linux/amd64'))?.childDigest).toBe('sha256:a');
    expect(await again.get('localhost:5000/app:latest', 'linux/arm64')).toBeUndefined();
  });

  it('writes updates that arrive together once (a group commit), each resolved only when the file holds it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const store = new StateStore(dir, () => undefined);
    const at = (i: number): ImageRecord => ({ ...record(`sha256:${i}`), reference: `localhost:5000/app:${i}` });
    // As a daemon's first cycle does: many checks record their pulls at about the same time.
    const puts = Array.from({ length: 50 }, async (_, i) => {
      await store.put(at(i));
      // Resolved: the file on disk has it.
      return (JSON.parse(await readFile(store.path, 'utf8')) as { images: Record<string, ImageRecord> }).images[`localhost:5000/app:${i} linux/amd64`]?.childDigest;
    });
    expect(await Promise.all(puts)).toEqual(Array.from({ length: 50 }, (_, i) => `sha256:${i}`));
    expect(store.writes).toBe(1);
    // One that arrives after a write is its own write.
    await store.put(at(50));
    expect(store.writes).toBe(2);
  });

  it('keeps the records in a dictionary, not an object with a hidden class per record (the daemon at 1,000 tags)', async () => {
    // V8's own view: a plain object that records are added to key by key stays in fast mode, with one hidden
    // class and descriptor array per key added (~1.6 MB at 1,000 tags), whether built by puts or by zod's parse.
    setFlagsFromString('--allow-natives-syntax');
    // The natives syntax only parses in code compiled after the flag is set, hence a function built from source.
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- a fixed string, no input reaches it
    const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: unknown) => boolean;
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const store = new StateStore(dir, () => undefined);
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.put({ ...record(`sha256:${i}`), reference: `localhost:5000/app:${i}` })));
    for (let i = 300; i < 310; i++) await store.put({ ...record(`sha256:${i}`), reference: `localhost:5000/app:${i}` });
    const written = await store.load();
    expect(Object.keys(written.images)).toHaveLength(310);
    expect(hasFastProperties(written.images)).toBe(false);
    const reader = new StateStore(dir, () => undefined);
    const loaded = await reader.load();
    expect(loaded.images['localhost:5000/app:309 linux/amd64']?.childDigest).toBe('sha256:309');
    expect(hasFastProperties(loaded.images)).toBe(false);
    // The records the caller gets are the store's own: an unchanged file read again is the same object, not a second copy.
    expect(await reader.load()).toBe(loaded);
  });

  it('applies the puts and changes of one write in order, and leaves the state it started from as it was', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const store = new StateStore(dir, () => undefined);
    await store.put(record('sha256:a'));
    const before = await store.load();
    const arm = { ...record('sha256:b'), platform: 'linux/arm64' };
    // put, a change that drops every record, put: only the last put survives.
    const batch = [
      store.put(record('sha256:c')),
      store.update((s) => ({ ...s, images: {} })),
      store.put(arm),
      store.put({ ...arm, childDigest: 'sha256:d' }),
    ];
    await Promise.all(batch);
    expect(Object.keys(before.images)).toEqual(['localhost:5000/app:latest linux/amd64']);
    expect(before.images['localhost:5000/app:latest linux/amd64']?.childDigest).toBe('sha256:a');
    const file = JSON.parse(await readFile(store.path, 'utf8')) as { images: Record<string, ImageRecord> };
    expect(Object.keys(file.images)).toEqual(['localhost:5000/app:latest linux/arm64']);
    expect(file.images['localhost:5000/app:latest linux/arm64']?.childDigest).toBe('sha256:d');
  });

  it('rejects only the update whose change throws; a commit that cannot write rejects every update it held', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const store = new StateStore(dir, () => undefined);
    await store.put(record('sha256:a'));
    const bad = store.update(() => {
      throw new Error('bad change');
    });
    const good = store.put({ ...record('sha256:b'), platform: 'linux/arm64' });
    await expect(bad).rejects.toThrow('bad change');
    await good;
    expect((await new StateStore(dir, () => undefined).get('localhost:5000/app:latest', 'linux/arm64'))?.childDigest).toBe('sha256:b');
    // A commit that cannot write rejects every update it held (a read-only store refuses them all) and changes nothing.
    const before = await readFile(store.path, 'utf8');
    const readOnly = new StateStore(dir, () => undefined, { readOnly: true });
    const lost = [readOnly.put(record('sha256:c')), readOnly.put({ ...record('sha256:d'), platform: 'linux/arm/v7' })];
    for (const p of lost) await expect(p).rejects.toThrow('read-only');
    expect(await readFile(store.path, 'utf8')).toBe(before);
  });

  it.each([['garbage', '{not json'], ['truncated', '{"version":1,"images":{'], ['wrong shape', '{"version":2}']])('moves a %s file aside with a warning', async (_name, text) => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    await writeFile(join(dir, 'state.json'), text);
    const warnings: string[] = [];
    const store = new StateStore(dir, (w) => warnings.push(w));
    expect(await store.load()).toEqual({ version: 1, images: {} });
    expect(warnings[0]).toMatch(/moved aside to .*state\.json\.corrupt-/);
    const kept = (await readdir(dir)).find((f) => f.startsWith('state.json.corrupt-'));
    expect(await readFile(join(dir, kept ?? ''), 'utf8')).toBe(text);
  });

  it('moves a directory in place of the file aside', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    await mkdir(join(dir, 'state.json'));
    const warnings: string[] = [];
    await new StateStore(dir, (w) => warnings.push(w)).load();
    expect(warnings).toHaveLength(1);
  });

  it.each([
    ['a FIFO', (p: string) => Promise.resolve(void execFileSync('mkfifo', [p]))],
    ['a symbolic link', (p: string) => symlink('/etc/hostname', p)],
  ])('moves %s in place of the file aside without blocking or following it (issue 13.20)', async (what, make) => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    await make(join(dir, 'state.json'));
    const warnings: string[] = [];
    let timer: NodeJS.Timeout | undefined;
    const loaded = await Promise.race([
      new StateStore(dir, (w) => warnings.push(w)).load(),
      new Promise((r) => (timer = setTimeout(() => r('blocked'), 3000))),
    ]);
    clearTimeout(timer);
    expect(loaded).toEqual({ version: 1, images: {} });
    expect(warnings).toEqual([expect.stringContaining(`(${what}, not a regular file); moved aside`)]);
    expect((await readdir(dir)).filter((f) => f === 'state.json')).toEqual([]);
  });

  it('removes orphaned temp files at load, not a live writer\'s temp file in flight', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const dead = 99_999_999; // above any pid_max: no such process
    const minutesAgo = (m: number): Date => new Date(Date.now() - m * 60_000);
    const file = (name: string, at: Date): Promise<void> => writeFile(join(dir, name), 'x').then(() => utimes(join(dir, name), at, at));
    await file(`.state.json.${dead}.aaaa.tmp`, new Date()); // a killed writer's: removed
    await file(`.state.json.${process.pid}.cccc.tmp`, minutesAgo(2)); // a live writer's, between create and rename: kept
    await file(`.state.json.${process.pid}.dddd.tmp`, minutesAgo(61)); // an hour old: removed whoever wrote it
    await file('.state.json.tmp', minutesAgo(2)); // no pid: kept until it is an hour old
    await file('other.tmp', minutesAgo(120));
    await new StateStore(dir, () => undefined).load();
    expect((await readdir(dir)).sort()).toEqual([`.state.json.${process.pid}.cccc.tmp`, '.state.json.tmp', 'other.tmp'].sort());
    expect(await removeOrphans(join(dir, 'state.json'))).toBe(0);
    expect(await removeOrphans(join(dir, 'state.json'), Date.now() + 60 * 60_000)).toBe(2);
  });

  it('writeFileDurable replaces the content and leaves no temp file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'state-'));
    const f = join(dir, 'x.json');
    await writeFileDurable(f, 'one');
    await writeFileDurable(f, 'two');
    expect(await readFile(f, 'utf8')).toBe('two');
    expect(await readdir(dir)).toEqual(['x.json']);
  });

  it('picks the state folder like a Linux service would', () => {
    expect(defaultStateDir({ RESOLVER_STATE_DIR: '/x' }, '/home/u', false)).toBe('/x');
    expect(defaultStateDir({ STATE_DIRECTORY: '/var/lib/resolver' }, '/home/u', false)).toBe('/var/lib/resolver');
    expect(defaultStateDir({}, '/root', true)).toBe('/var/lib/resolver');
    expect(defaultStateDir({}, '/home/u', false)).toBe('/home/u/.local/state/resolver');
    expect(defaultStateDir({ XDG_STATE_HOME: '/s' }, '/home/u', false)).toBe('/s/resolver');
  });
});

import { mkdtemp, readdir, readFile, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DraftStore } from './drafts.js';

const reg = '127.0.0.1:5000';

async function store(): Promise<{ dir: string; drafts: DraftStore }> {
  const dir = await mkdtemp(join(tmpdir(), 'drafts-'));
  return { dir, drafts: new DraftStore(dir) };
}

describe('manifest drafts', () => {
  it('a/b:v1 and a_b:v1 are two drafts (issue 13.8: they shared one file)', async () => {
    const { dir, drafts } = await store();
    await drafts.create(`${reg}/team/a/b:v1`, [`${reg}/x:amd64`], false);
    await drafts.create(`${reg}/team/a_b:v1`, [`${reg}/y:arm64`], false);
    expect((await drafts.get(`${reg}/team/a/b:v1`))?.entries.map((e) => e.image)).toEqual([`${reg}/x:amd64`]);
    expect((await drafts.get(`${reg}/team/a_b:v1`))?.entries.map((e) => e.image)).toEqual([`${reg}/y:arm64`]);
    expect((await readdir(join(dir, 'manifests'))).filter((f) => f.endsWith('.json'))).toHaveLength(2);
  });

  it('the file holds the reference; a file holding another reference is an error, never used', async () => {
    const { dir, drafts } = await store();
    await drafts.create(`${reg}/team/a/b:v1`, [`${reg}/x:amd64`], false);
    const [file] = await readdir(join(dir, 'manifests'));
    const path = join(dir, 'manifests', file ?? '');
    const doc = JSON.parse(await readFile(path, 'utf8')) as { list: string };
    expect(doc.list).toBe(`${reg}/team/a/b:v1`);
    await writeFile(path, JSON.stringify({ ...doc, list: `${reg}/team/a_b:v1` }));
    await expect(drafts.get(`${reg}/team/a/b:v1`)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining(`holds ${reg}/team/a_b:v1, not ${reg}/team/a/b:v1`) });
  });

  it('a corrupt draft is a clear error naming the fix, and rm removes it', async () => {
    const { dir, drafts } = await store();
    await drafts.create(`${reg}/l:v1`, [`${reg}/x:amd64`], false);
    const [file] = await readdir(join(dir, 'manifests'));
    await writeFile(join(dir, 'manifests', file ?? ''), '{"list": tru');
    await expect(drafts.get(`${reg}/l:v1`)).rejects.toMatchObject({ code: 'ERR_USAGE', details: [`remove it with: resolver manifest rm ${reg}/l:v1`] });
    expect(await drafts.remove(`${reg}/l:v1`)).toBe(true);
    expect(await drafts.get(`${reg}/l:v1`)).toBeUndefined();
    expect(await drafts.remove(`${reg}/l:v1`)).toBe(false);
  });

  it('an earlier version\'s draft is used only for the list it holds, and moves to the new name on write', async () => {
    const { dir, drafts } = await store();
    await mkdir(join(dir, 'manifests'), { recursive: true });
    const legacy = join(dir, 'manifests', '127.0.0.1_5000_team_a_b_v1.json');
    await writeFile(legacy, JSON.stringify({ list: `${reg}/team/a_b:v1`, entries: [{ image: `${reg}/y:arm64`, platform: {} }] }));
    expect(await drafts.get(`${reg}/team/a/b:v1`)).toBeUndefined();
    expect((await drafts.get(`${reg}/team/a_b:v1`))?.entries).toHaveLength(1);
    await drafts.create(`${reg}/team/a_b:v1`, [`${reg}/z:arm`], true);
    const files = await readdir(join(dir, 'manifests'));
    expect(files).not.toContain('127.0.0.1_5000_team_a_b_v1.json');
    expect((await drafts.get(`${reg}/team/a_b:v1`))?.entries.map((e) => e.image)).toEqual([`${reg}/y:arm64`, `${reg}/z:arm`]);
  });

  it('create --insecure is kept in the draft, also through --amend', async () => {
    const { drafts } = await store();
    await drafts.create(`${reg}/l:v1`, [`${reg}/x:amd64`], false, true);
    await drafts.create(`${reg}/l:v1`, [`${reg}/y:arm64`], true);
    expect((await drafts.get(`${reg}/l:v1`))?.insecure).toBe(true);
  });

  it('a state folder whose parent is a file is a clear error', async () => {
    const { dir } = await store();
    await writeFile(join(dir, 'file'), 'x');
    const drafts = new DraftStore(join(dir, 'file', 'state'));
    await expect(drafts.create(`${reg}/l:v1`, [`${reg}/x:amd64`], false)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/a part of .* (is not a folder|is a file)/) });
    await expect(drafts.get(`${reg}/l:v1`)).rejects.toMatchObject({ code: 'ERR_USAGE', message: expect.stringMatching(/a part of .* is not a folder/) });
  });
});

/**
 * The layer table of docs/architecture.md (read from the document), enforced by eslint.config.js: a probe file
 * in each folder of src/ imports every other folder, and ESLint (the project's own config, through its Node API)
 * must reject exactly the imports that do not point down. Also: import() calls and import() types, product code importing test/,
 * and the pure core's IO ban still applying beside the layer rule.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '..');

/** The layer table of docs/architecture.md (`| 7 | \`cli\` | … |`), bottom first: the spec the config must implement. */
function documentedLayers(): string[][] {
  const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| (\d+) \| ([^|]+) \|/gm)].map((m) => ({ level: Number(m[1]), folders: [...(m[2] ?? '').matchAll(/`([a-z-]+)`/g)].map((f) => f[1] ?? '') }));
  return rows.sort((a, b) => a.level - b.level).map((r) => r.folders);
}
const layers = documentedLayers();
const levelOf = new Map(layers.flatMap((row, i) => row.map((f) => [f, i] as const)));
const folders = [...levelOf.keys()];
const layerRules = new Set(['no-restricted-imports', 'no-restricted-syntax']);

let eslint: ESLint;
beforeAll(async () => {
  // The project's config as is; only the two import rules run, so the probes (which exist in no tsconfig) are
  // parsed without type information.
  eslint = new ESLint({
    cwd: root,
    overrideConfig: { languageOptions: { parserOptions: { projectService: false } } },
    ruleFilter: ({ ruleId }) => layerRules.has(ruleId),
  });
  // The first lint loads the config and the parser (seconds on a busy machine).
  await eslint.lintText('\n', { filePath: join(root, 'src/layer-probe.ts') });
}, 60_000);

/** The import-rule messages ESLint reports for `code` as the file `path` (relative to the repository). */
async function lint(path: string, code: string): Promise<{ line: number; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, path) });
  expect(result?.fatalErrorCount, JSON.stringify(result?.messages)).toBe(0);
  return (result?.messages ?? []).map((m) => ({ line: m.line, message: m.message }));
}

describe('dependency direction (eslint.config.js)', () => {
  it('docs/architecture.md has a row for every folder of src/', () => {
    expect(layers.length).toBeGreaterThan(5);
    const actual = readdirSync(join(root, 'src'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(actual.sort()).toEqual([...folders].sort());
  });

  it.each(folders)('%s/ may import the folders below it and no other', async (folder) => {
    const others = folders.filter((f) => f !== folder);
    const code = `${others.map((f) => `import '../${f}/probe.js';`).join('\n')}\n`;
    const messages = await lint(`src/${folder}/layer-probe.ts`, code);
    const rejected = others.filter((_, i) => messages.some((m) => m.line === i + 1 && m.message.includes(`${folder}/ may import only`)));
    const upward = others.filter((f) => (levelOf.get(f) ?? 0) >= (levelOf.get(folder) ?? 0));
    expect(rejected).toEqual(upward);
    // Nothing else is reported (the pure core's "does not log" may stand beside the layer message).
    expect(messages.filter((m) => !m.message.includes('may import only') && !m.message.includes('does not log'))).toEqual([]);
  });

  it('rejects upward import() calls and import() types, and an upward import from a nested folder', async () => {
    const code = [
      "export const lazy = (): Promise<unknown> => import('../engine/engine-probe.js');",
      "export type Facts = import('../engine/engine-probe.js').EngineProbe;",
      "export const ok = (): Promise<unknown> => import('./cpuinfo.js');",
    ].join('\n');
    const messages = await lint('src/platform/layer-probe.ts', `${code}\n`);
    expect(messages.map((m) => m.line)).toEqual([1, 2]);
    const nested = await lint('src/cli/commands/layer-probe.ts', "import '../../daemon/daemon.js';\n");
    expect(nested).toEqual([]);
    const nestedUp = await lint('src/publish/nested/layer-probe.ts', "import '../../resolver/resolve.js';\n");
    expect(nestedUp.map((m) => m.message)).toEqual([expect.stringContaining('publish/ may import only')]);
  });

  it('keeps test/ out of product code, not out of the tests beside it', async () => {
    const product = await lint('src/resolver/layer-probe.ts', "import '../../test/fakes/probe.js';\n");
    expect(product.map((m) => m.message)).toEqual(['\'../../test/fakes/probe.js\' import is restricted from being used by a pattern. product code does not import test/']);
    expect(await lint('src/resolver/layer-probe.test.ts', "import '../../test/fakes/probe.js';\n")).toEqual([]);
  });

  it('still bans IO in the pure core, beside the layer rule', async () => {
    const messages = await lint('src/reference/layer-probe.ts', "import 'node:fs';\nimport '../manifest/probe.js';\n");
    expect(messages.map((m) => m.line)).toEqual([1, 2]);
    expect(messages[0]?.message).toContain('the pure core does no IO');
  });
});

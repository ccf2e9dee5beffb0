/**
 * Reads a YAML config file and validates it. Errors name the file, the line, the key and the fix, and
 * carry ERR_CONFIG_INVALID (exit 78, EX_CONFIG).
 */
import { readFile } from 'node:fs/promises';
import cron from 'node-cron';
import { isMap, isPair, isScalar, LineCounter, parseDocument, type Node } from 'yaml';
import { ResolverError } from '../errors.js';
import { configSchema, type Config } from './schema.js';

/** node-cron's validator, with its reason. */
export function checkCron(expression: string): string | undefined {
  const detailed = cron.validateDetailed(expression);
  if (detailed.valid) return undefined;
  const first = detailed.errors[0];
  return first === undefined ? 'invalid' : `${first.field}: ${first.message}`;
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('') || '(top level)';
}

/** Parses and validates config text. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const at = e?.linePos?.[0];
    throw new ResolverError('ERR_CONFIG_INVALID', `${file}:${at?.line ?? '?'}: not valid YAML: ${e?.message.split('\n')[0] ?? ''}`);
  }
  const parsed = configSchema(checkCron).safeParse(doc.toJS() ?? {});
  if (parsed.success) return parsed.data;
  const messages = parsed.error.issues.slice(0, 8).map((issue) => {
    let path: PropertyKey[] = [...issue.path];
    let node = doc.getIn(path, true) as Node | undefined;
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const parent = doc.getIn(path, true);
      const key = issue.keys[0] ?? '';
      if (isMap(parent)) {
        const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
        if (pair !== undefined && isPair(pair) && isScalar(pair.key)) node = pair.key;
      }
      path = [...path, key];
      message = `unknown key "${key}"; check the spelling against config/resolver.example.yaml`;
    }
    if (node === undefined && issue.code === 'invalid_type' && issue.path.length > 0) message = `${message} (required)`;
    const range = node?.range;
    const line = range === undefined || range === null ? undefined : lines.linePos(range[0]).line;
    return `${file}:${line ?? '?'}: ${keyPath(path)}: ${message}`;
  });
  throw new ResolverError('ERR_CONFIG_INVALID', `invalid configuration ${file}`, { details: messages });
}

/** Reads and validates a config file. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ResolverError('ERR_CONFIG_INVALID', `cannot read the config file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, {
      details: ['pass --config FILE; see config/resolver.example.yaml'],
    });
  }
  return parseConfig(text, file);
}

/**
 * Reads a YAML config file and validates it. Errors name the file, the line, the key and the fix, and
 * carry ERR_CONFIG_INVALID (exit 78, EX_CONFIG) — every failure does, whatever the file holds: the unit's
 * `RestartPreventExitStatus=78` relies on it. Limits: 4 MiB per file, 64 levels of nesting, 100 YAML alias
 * expansions and `maxImages` entries (schema.ts), so a hostile or generated file cannot exhaust or crash the daemon.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import cron from 'node-cron';
import { isAlias, isMap, isPair, isScalar, LineCounter, parseDocument, visit, type Document, type Node } from 'yaml';
import { ResolverError } from '../errors.js';
import { configSchema, maxImages, type Config } from './schema.js';

/** The largest config file read, in bytes. */
export const maxConfigBytes = 4 * 1024 * 1024;

/** How many times YAML aliases may be expanded (yaml's `maxAliasCount`): a "billion laughs" file stops here. */
export const maxAliasCount = 100;

/**
 * How deeply collections may nest. yaml parses recursively: around 1,000 levels exhaust the stack, and after an
 * earlier overflow V8 can then abort the whole process while compiling a regular expression (seen: a reload
 * with 10,000 levels after one with 1,000). A config needs 4 levels.
 */
export const maxNesting = 64;

/**
 * The first line where flow (`[`, `{`) or block (indentation, `- - -`) nesting exceeds `maxNesting`. Brackets
 * are counted everywhere, in quotes and comments too, so nothing can hide them from the count; a real config
 * never holds 64 unclosed brackets.
 */
export function tooDeep(text: string): number | undefined {
  let flow = 0;
  const indents: number[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    // At the start of a line: its indentation, then one more level per `- ` entry on it.
    let column = 0;
    const levels: number[] = [];
    for (;;) {
      while (text[i] === ' ') {
        i++;
        column++;
      }
      levels.push(column);
      if (text[i] !== '-' || (text[i + 1] !== ' ' && text[i + 1] !== '\n' && i + 1 < text.length)) break;
      i++;
      column++;
    }
    if (i < text.length && text[i] !== '\n' && text[i] !== '#' && flow === 0) {
      for (const level of levels) {
        while ((indents.at(-1) ?? -1) >= level) indents.pop();
        indents.push(level);
      }
      if (indents.length > maxNesting) return line;
    }
    for (; i < text.length && text[i] !== '\n'; i++) {
      const c = text[i];
      if (c === '[' || c === '{') {
        if (++flow > maxNesting) return line;
      } else if ((c === ']' || c === '}') && flow > 0) flow--;
    }
    i++;
    line++;
  }
  return undefined;
}

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

function invalid(message: string, details: string[] = []): ResolverError {
  return new ResolverError('ERR_CONFIG_INVALID', message, { details: [...details, 'see config/resolver.example.yaml; check with: resolver config check FILE'] });
}

function lineOf(lines: LineCounter, node: Node | undefined): number | undefined {
  const range = node?.range;
  return range === undefined || range === null ? undefined : lines.linePos(range[0]).line;
}

function toJS(doc: Document, lines: LineCounter, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount }) ?? {};
  } catch (error) {
    let first: Node | undefined;
    visit(doc, {
      Alias(_, node) {
        first = node;
        return visit.BREAK;
      },
    });
    const why = error instanceof Error ? error.message : String(error);
    if (first !== undefined && isAlias(first) && /alias/i.test(why)) {
      throw invalid(`${file}:${lineOf(lines, first) ?? '?'}: YAML aliases expand more than ${maxAliasCount} times (an alias bomb?); write the values out instead`);
    }
    throw invalid(`${file}: cannot read the YAML: ${why}`);
  }
}

/** Parses and validates config text. */
export function parseConfig(text: string, file: string): Config {
  if (text.length > maxConfigBytes) throw invalid(`${file}: the config is larger than ${maxConfigBytes / 1024 / 1024} MiB`);
  const deep = tooDeep(text);
  if (deep !== undefined) throw invalid(`${file}:${deep}: the YAML nests more than ${maxNesting} levels deep; a config needs 4`);
  const lines = new LineCounter();
  let doc: Document;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    // yaml reports problems in doc.errors; this is a parser failure such as a stack overflow on deep nesting.
    throw invalid(`${file}: not valid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const at = e?.linePos?.[0];
    throw invalid(`${file}:${at?.line ?? '?'}: not valid YAML: ${e?.message.split('\n')[0] ?? ''}`);
  }
  let parsed;
  try {
    parsed = configSchema(checkCron).safeParse(toJS(doc, lines, file));
  } catch (error) {
    if (error instanceof ResolverError) throw error;
    throw invalid(`${file}: cannot validate the config: ${error instanceof Error ? error.message : String(error)}`);
  }
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
    if (issue.code === 'custom' && typeof issue.params?.['duplicateOf'] === 'number') {
      const firstLine = lineOf(lines, doc.getIn(['images', issue.params['duplicateOf']], true) as Node | undefined);
      message = `${message} (images[${String(issue.params['duplicateOf'])}] is on line ${firstLine ?? '?'})`;
    }
    if (node === undefined && issue.code === 'invalid_type' && issue.path.length > 0) {
      // A missing key has no line: say what is missing and what to write, not the validator's words.
      const key = keyPath(path);
      const example = key === 'images' ? ': list the images to keep pulled, e.g.\n  images:\n    - image: docker.io/library/alpine:3.20' : '; see config/resolver.example.yaml';
      return `${file}: \`${key}\` is missing${example}`;
    }
    const line = lineOf(lines, node);
    return line === undefined ? `${file}: ${keyPath(path)}: ${message}` : `${file}:${line}: ${keyPath(path)}: ${message}`;
  });
  const more = parsed.error.issues.length - messages.length;
  throw new ResolverError('ERR_CONFIG_INVALID', `invalid configuration ${file}`, { details: more > 0 ? [...messages, `… and ${more} more`] : messages });
}

/** Where to name another file: a flag for daemon/check/status/notify, an argument for `config check`. */
const fileHint = 'name a config file: --config FILE, or `resolver config check FILE`';

/** Reads and validates a config file: a regular file (never a FIFO or device, which could block) of at most `maxConfigBytes`. */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await handle.stat();
    if (st.isDirectory()) throw invalid(`${file} is a folder, not a config file`, [fileHint]);
    if (!st.isFile()) throw invalid(`${file} is not a regular file (a pipe or device could block the daemon)`, [fileHint]);
    if (st.size > maxConfigBytes) throw invalid(`${file} is ${(st.size / 1024 / 1024).toFixed(1)} MiB; the limit is ${maxConfigBytes / 1024 / 1024} MiB and ${maxImages} images`);
    const buffer = Buffer.alloc(maxConfigBytes + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > maxConfigBytes) throw invalid(`${file} grew past ${maxConfigBytes / 1024 / 1024} MiB while it was read`);
    }
    text = buffer.subarray(0, length).toString('utf8');
  } catch (error) {
    if (error instanceof ResolverError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (code ?? String(error));
    throw new ResolverError('ERR_CONFIG_INVALID', `cannot read the config file ${file}: ${why}`, {
      details: [`${fileHint}; see config/resolver.example.yaml`],
    });
  } finally {
    await handle?.close();
  }
  return parseConfig(text, file);
}

import { describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { printError } from './output.js';

function capture(error: unknown, env: Record<string, string> = {}, json = false): { out: string; err: string } {
  let out = '';
  let err = '';
  printError({ out: (t) => (out += `${t}\n`), err: (t) => (err += `${t}\n`) }, error, json, env);
  return { out, err };
}

describe('printError', () => {
  it('a ResolverError: message and details', () => {
    expect(capture(new ResolverError('ERR_USAGE', 'bad', { details: ['fix it'] })).err).toBe('resolver: bad\n  fix it\n');
  });

  it('a file-system error: one line with the path and what it means, no stack trace', () => {
    const e = Object.assign(new Error("ENOTDIR: not a directory, mkdir '/x/file/state'"), { code: 'ENOTDIR', syscall: 'mkdir', path: '/x/file/state' });
    const { err, out } = capture(e, {}, true);
    expect(err).toBe("resolver: ENOTDIR: not a directory, mkdir '/x/file/state'\n  a part of the path is a file, not a folder (/x/file/state); for the state folder see RESOLVER_STATE_DIR\n");
    expect(JSON.parse(out)).toMatchObject({ error: { code: 'ERR_SYSTEM' } });
  });

  it('anything else: the message and a request to report it; the stack only with RESOLVER_DEBUG', () => {
    const e = new TypeError('Invalid URL');
    expect(capture(e).err).toBe('resolver: unexpected error: Invalid URL\n  this is a bug in resolver: please report it (RESOLVER_DEBUG=1 shows the stack trace)\n');
    expect(capture(e).err).not.toMatch(/\n\s+at /);
    expect(capture(e, { RESOLVER_DEBUG: '1' }).err).toMatch(/\n\s+at /);
  });
});

import { describe, expect, it } from 'vitest';
import { ResolverError, type ErrorCode } from '../../errors.js';
import { SignalHub } from '../signals.js';
import { containerEnv, runFailureExitCode } from './run.js';

describe('containerEnv (-e as docker run reads it)', () => {
  it('keeps KEY=VALUE, fills a bare KEY from this environment, and leaves an unset KEY bare (unset in the container)', () => {
    expect(containerEnv(['A=1', 'B=', 'C=x=y', 'SET', 'UNSET'], { SET: 'here', EMPTY: '' })).toEqual(['A=1', 'B=', 'C=x=y', 'SET=here', 'UNSET']);
    expect(containerEnv(['EMPTY'], { EMPTY: '' })).toEqual(['EMPTY=']);
  });

  it.each(['=x', ''])('refuses %j', (entry) => {
    expect(() => containerEnv([entry], {})).toThrow(ResolverError);
  });
});

describe('runFailureExitCode (docker run: 125 for its own failures)', () => {
  it.each([
    ['ERR_COMMAND_NOT_FOUND', 127],
    ['ERR_COMMAND_NOT_INVOKABLE', 126],
    ['ERR_CONTAINER_FAILED', 125],
    ['ERR_NO_MATCHING_PLATFORM', 125],
    ['ERR_NETWORK', 125],
    ['ERR_USAGE', 125],
    ['ERR_ENGINE_UNAVAILABLE', 125],
    ['ERR_ABORTED', 130],
  ] as [ErrorCode, number][])('%s → %i', (code, exit) => {
    expect(runFailureExitCode(new ResolverError(code, 'x'), new SignalHub())).toBe(exit);
  });
});

import { describe, expect, it } from 'vitest';
import { containerFailureCode } from './engine.js';

describe('containerFailureCode (docker run’s exit status for an engine refusal)', () => {
  it.each([
    ['failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nonexistent": stat /nonexistent: no such file or directory: unknown', 'ERR_COMMAND_NOT_FOUND'],
    ['failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown', 'ERR_COMMAND_NOT_FOUND'],
    // Windows words it its own way; other runtimes capitalise strerror's text.
    ['exec: "/x": stat /x: No such file or directory', 'ERR_COMMAND_NOT_FOUND'],
    ['container 1234 encountered an error during hcs::System::CreateProcess: The system cannot find the file specified.', 'ERR_COMMAND_NOT_FOUND'],
    ['Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc": permission denied: unknown', 'ERR_COMMAND_NOT_INVOKABLE'],
    ['exec: "/data": is a directory', 'ERR_COMMAND_NOT_INVOKABLE'],
    ['network bogus not found', 'ERR_CONTAINER_FAILED'],
    ['invalid mode: zz', 'ERR_CONTAINER_FAILED'],
    ['Conflict. The container name "/dup" is already in use by container "70c0". You have to remove (or rename) that container to be able to reuse that name.', 'ERR_CONTAINER_FAILED'],
  ])('%s → %s', (message, code) => {
    expect(containerFailureCode(message)).toBe(code);
  });
});

import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ContainerEngine } from './containers.js';
import { containerFailureCode, type ContainerRunner, type Engine, type ImageEngine } from './engine.js';

// Checked by tsc (npm run typecheck): a consumer of one half cannot reach the other's operations.
describe('Engine: an image half and a container-running half (issue 14)', () => {
  it('the image half has no container operations, the running half no image ones', () => {
    type ContainerOps = 'createContainer' | 'runAttached' | 'start' | 'kill' | 'remove' | 'resize' | 'listContainers' | 'inspectContainer' | 'containerEvents' | 'close';
    type ImageOps = 'facts' | 'pull' | 'tag' | 'inspectImage' | 'listImages' | 'imagesInUse' | 'removeImage';
    expectTypeOf<keyof ImageEngine>().toEqualTypeOf<ImageOps>();
    expectTypeOf<Extract<keyof ImageEngine, ContainerOps>>().toBeNever();
    expectTypeOf<Extract<keyof ContainerRunner, ImageOps | 'close'>>().toBeNever();
  });

  it('Engine is both halves, the listing and events, and close()', () => {
    expectTypeOf<Engine>().toExtend<ImageEngine & ContainerRunner & ContainerEngine & { close(): Promise<void> }>();
    expectTypeOf<ImageEngine & ContainerRunner & ContainerEngine & { close(): Promise<void> }>().toExtend<Engine>();
  });
});

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

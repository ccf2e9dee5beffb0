import { describe, expect, it } from 'vitest';
import { FakeEngine } from '../../../test/fakes/fake-engine.js';
import { targetFor } from '../../../test/fakes/daemon-rig.js';
import type { TargetOptions } from '../services.js';
import { describe as describeTarget, run, toJson } from './platform.js';

describe('platform: run(options, deps)', () => {
  it("asks for the engine's platform (a named engine must answer) and shows it", async () => {
    const asked: TargetOptions[] = [];
    const engine = new FakeEngine();
    const t = await run({}, { target: (o) => {
      asked.push(o);
      return targetFor(engine, o.platform);
    } });
    expect(asked).toEqual([{ needsNamedEngine: true }]);
    expect(toJson(t)).toMatchObject({ platform: expect.stringMatching(/^linux\/amd64/) as unknown, requested: false });
    expect(describeTarget(t)).toMatch(/^platform {2}linux\/amd64/);
  });

  it('--platform is parsed and shown instead of the host', async () => {
    const t = await run({ platform: 'linux/arm/v7' }, { target: (o) => targetFor(new FakeEngine(), o.platform) });
    expect(toJson(t)).toMatchObject({ platform: 'linux/arm/v7', requested: true });
  });
});

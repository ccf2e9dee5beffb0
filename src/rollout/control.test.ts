import { describe, expect, it } from 'vitest';
import { controlDocument, controlKeys, parseControl } from './control.js';

const digest = `sha256:${'a'.repeat(64)}`;
const doc = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

describe('parseControl', () => {
  it('reads what controlDocument writes', () => {
    expect(parseControl(controlDocument({ paused: true, blocked: [digest], step: 2 }))).toEqual({ paused: true, blocked: [digest], step: 2 });
    expect(parseControl(controlDocument({}))).toEqual({ paused: false, blocked: [], step: undefined });
  });

  it.each([
    ['not JSON', Buffer.from('{"annotations":'), 'not JSON'],
    ['null', doc(null), 'not a JSON object'],
    ['a number', doc(5), 'not a JSON object'],
    ['an array', doc([{ annotations: {} }]), 'not a JSON object'],
    ['a blocked entry that is no digest', doc({ annotations: { [controlKeys.blocked]: `${digest},latest` } }), `${controlKeys.blocked} holds "latest", not a sha256 digest`],
    ['a step that is no number', doc({ annotations: { [controlKeys.step]: 'two' } }), `${controlKeys.step} is "two", not a step number (0, 1, 2 …)`],
  ])('%s is a problem naming it', (_what, body, problem) => {
    expect(parseControl(body)).toEqual({ problem });
  });

  it('annotations that are not an object, or values that are not strings, count as absent', () => {
    expect(parseControl(doc({ annotations: 'paused' }))).toEqual({ paused: false, blocked: [], step: undefined });
    expect(parseControl(doc({ annotations: [1, 2] }))).toEqual({ paused: false, blocked: [], step: undefined });
    expect(parseControl(doc({ annotations: { [controlKeys.paused]: true, [controlKeys.step]: 1 } }))).toEqual({ paused: false, blocked: [], step: undefined });
    expect(parseControl(doc({ annotations: { [controlKeys.paused]: ' TRUE ', [controlKeys.step]: ' 1 ' } }))).toEqual({ paused: true, blocked: [], step: 1 });
  });
});

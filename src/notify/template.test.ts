import { describe, expect, it } from 'vitest';
import { headerSafe, renderTemplate, templateProblem } from './template.js';

describe('templates', () => {
  it.each([
    ['{{text}}', { text: 'a "b"' }, 'a "b"'],
    ['{"message": {{json text}}, "priority": 5}', { text: 'a "b"\n' }, '{"message": "a \\"b\\"\\n", "priority": 5}'],
    ['{{ json size }}', { size: 12 }, '12'],
    ['{{json oldDigest}}', {}, 'null'],
    ['[{{oldDigest}}]', {}, '[]'],
    ['{{digests}}', { digests: ['sha256:a', 'sha256:b'] }, 'sha256:a, sha256:b'],
  ] as const)('%s', (template, values, expected) => {
    expect(templateProblem(template)).toBeUndefined();
    expect(renderTemplate(template, values)).toBe(expected);
  });

  it.each([
    ['{{nope}}', 'unknown template field {{nope}}'],
    ['{{json secret}}', 'unknown template field {{json secret}}'],
    ['{{text', 'unclosed'],
  ])('refuses %s', (template, message) => {
    expect(templateProblem(template)).toContain(message);
  });

  it('keeps a field from adding a header line', () => {
    expect(headerSafe('a\r\nX-Evil: 1')).toBe('a  X-Evil: 1');
  });
});

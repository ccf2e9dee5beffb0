import { describe, expect, it } from 'vitest';
import { formatBytes } from './format-bytes.js';

describe('formatBytes', () => {
  it('formats sizes like docker', () => {
    expect([formatBytes(512), formatBytes(1500), formatBytes(12_345_678)]).toEqual(['512 B', '1.50 kB', '12.3 MB']);
  });
});

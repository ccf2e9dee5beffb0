import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from './client.js';

// Moved from src/http/http.test.ts: isLoopbackHost is the registry client's (a test of http/ may not import registry/).
describe('isLoopbackHost', () => {
  it('classifies loopback hosts', () => {
    expect(['localhost:5000', '127.0.0.1:5000', '127.3.2.1', '[::1]:5000'].map(isLoopbackHost)).toEqual([true, true, true, true]);
    expect(['registry.example.com', '10.0.0.1:5000', 'localhost.example.com'].map(isLoopbackHost)).toEqual([false, false, false]);
  });

  it('treats hostnames case-insensitively and IPv4-mapped loopback as loopback (13.21), but not NAT64 or 6to4', () => {
    expect(['LOCALHOST:5000', 'LocalHost', '[::ffff:127.0.0.1]:5000', '[::ffff:7f00:1]', '[0:0:0:0:0:0:0:1]:5000'].map(isLoopbackHost)).toEqual([true, true, true, true, true]);
    expect(['[64:ff9b::7f00:1]', '[2002:7f00:1::]', '[::ffff:10.0.0.1]', 'localhost.example.com:5000'].map(isLoopbackHost)).toEqual([false, false, false, false]);
  });
});

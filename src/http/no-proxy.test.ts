import { describe, expect, it } from 'vitest';
import { bypassesProxy } from './no-proxy.js';

describe('bypassesProxy (Go httpproxy semantics, as dockerd)', () => {
  it.each([
    ['http://127.0.0.1:5000/', '', true],
    ['http://LOCALHOST:5000/', '', true],
    ['http://[::1]:5000/', '', true],
    ['http://[::ffff:127.0.0.1]:5000/', '', true],
    ['https://registry.example.com/', '', false],
    ['https://registry.example.com/', '*', true],
    ['https://registry.example.com/', 'example.com', true],
    ['https://example.com/', 'example.com', true],
    ['https://example.com/', '.example.com', false],
    ['https://a.example.com/', '*.example.com', true],
    ['https://notexample.com/', 'example.com', false],
    ['https://registry.example.com/', 'registry.example.com:443', true],
    ['https://registry.example.com:5000/', 'registry.example.com:443', false],
    ['http://10.1.2.3:5000/', '10.0.0.0/8', true],
    ['http://10.1.2.3:5000/', '192.168.0.0/16', false],
    ['http://[fd00::5]/', 'fd00::/8', true],
    ['http://10.1.2.3/', '10.1.2.3', true],
    ['https://registry.example.com/', ' other.org , REGISTRY.example.com ', true],
  ])('%s with NO_PROXY=%j → %s', (url, noProxy, expected) => {
    expect(bypassesProxy(new URL(url), noProxy)).toBe(expected);
  });
});

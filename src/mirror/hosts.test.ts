import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fc, test as propTest } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { ResolverError } from '../errors.js';
import { expectResolverError, expectResolverErrorSync } from '../../test/fakes/expect-error.js';
import { mirrorSources } from './config.js';
import { daemonJsonMirrors, endpointsFor, namespaceDirs, parseHostsToml } from './hosts.js';
import { mirrorTable, readNamespace } from './read.js';

const brief = (e: { scheme: string | undefined; host: string; path: string; capabilities: readonly string[] }): string => `${e.scheme ?? '?'}://${e.host}${e.path} [${e.capabilities.join(',')}]`;

describe('hosts.toml (containerd docs/hosts.md)', () => {
  it('tries the hosts in file order, then server; capabilities default to all', () => {
    const h = parseHostsToml('docker.io', [
      'server = "https://registry-1.docker.io"    # the upstream',
      '',
      '[host."https://public-mirror.example.com"]',
      '  capabilities = ["pull"]',
      '[host."http://docker-mirror.internal:5000"]',
      "  capabilities = ['pull', 'RESOLVE']",
      '  skip_verify = true',
      '  ca = "docker-mirror.crt"',
    ].join('\n'), '/etc/docker/certs.d/docker.io/hosts.toml', '/etc/docker/certs.d/docker.io');
    expect(h.endpoints.map(brief)).toEqual([
      'https://public-mirror.example.com/v2 [pull]',
      'http://docker-mirror.internal:5000/v2 [pull,resolve]',
      'https://registry-1.docker.io/v2 [pull,resolve,push]',
    ]);
    expect(h.endpoints[1]?.skipVerify).toBe(true);
    expect(h.endpoints[1]?.ca).toEqual(['/etc/docker/certs.d/docker.io/docker-mirror.crt']);
    expect(h.endpoints.map((e) => e.upstream)).toEqual([false, false, true]);
    expect(endpointsFor(h, 'resolve').map((e) => e.host)).toEqual(['docker-mirror.internal:5000', 'registry-1.docker.io']);
    expect(endpointsFor(h, 'pull').map((e) => e.host)).toEqual(['public-mirror.example.com', 'docker-mirror.internal:5000', 'registry-1.docker.io']);
    expect(endpointsFor(h, 'push').map((e) => e.host)).toEqual(['registry-1.docker.io']);
    expect(h.warnings).toEqual([]);
  });

  it('without server, the namespace itself is last (docker.io at registry-1.docker.io), on the client\'s own scheme', () => {
    const h = parseHostsToml('docker.io', '[host."mirror.lan"]\ncapabilities = ["pull"]\n', 'f');
    expect(h.endpoints.map(brief)).toEqual(['https://mirror.lan/v2 [pull]', '?://registry-1.docker.io/v2 [pull,resolve,push]']);
    const own = parseHostsToml('127.0.0.1:5000', '', 'f');
    expect(own.endpoints.map(brief)).toEqual(['?://127.0.0.1:5000/v2 [pull,resolve,push]']);
  });

  it('a server that is a mirror replaces the upstream (containerd: "only the mirror")', () => {
    const h = parseHostsToml('_default', 'server = "https://registry.example.com"\n', 'f');
    expect(h.endpoints.map(brief)).toEqual(['https://registry.example.com/v2 [pull,resolve,push]']);
  });

  it('a path is the API root: /v2 appended unless override_path', () => {
    const h = parseHostsToml('ghcr.io', '[host."https://m.lan/ghcr"]\n[host."https://n.lan/custom/api"]\noverride_path = true\n[host."https://o.lan/v2/"]\n', 'f');
    expect(h.endpoints.slice(0, 3).map((e) => e.path)).toEqual(['/ghcr/v2', '/custom/api', '/v2']);
  });

  it('keys resolver does not use are warnings naming file and key; unknown keys too', () => {
    const h = parseHostsToml('docker.io', 'colour = "red"\n[host."https://m.lan"]\n  dial_timeout = "1s"\n  [host."https://m.lan".header]\n    x-a = "b"\n', '/x/hosts.toml');
    expect(h.warnings).toEqual([
      '/x/hosts.toml: colour: unknown key, ignored',
      '/x/hosts.toml: host."https://m.lan".dial_timeout: not used (resolver uses its own connect timeout (5 s)); the engine may still use it',
    ]);
  });

  it('headers: the root [header] is the server\'s, [host."URL".header] the host\'s; a string or a list; names lower-cased', () => {
    const h = parseHostsToml('reg.lan', [
      '[header]', '  X-Root = "r"',
      '[host."https://m.lan"]', '  [host."https://m.lan".header]', '    x-a = ["1", "2"]', '    X-B = "b"',
    ].join('\n'), '/x/hosts.toml');
    expect(h.endpoints.map((e) => e.headers)).toEqual([{ 'x-a': ['1', '2'], 'x-b': ['b'] }, { 'x-root': ['r'] }]);
    expect(h.warnings).toEqual([]);
  });

  it('client: a path, a list of paths, or [cert, key] pairs, relative to the file\'s folder', () => {
    const h = parseHostsToml('reg.lan', [
      'client = "both.pem"',
      '[host."https://a"]', '  client = ["/abs/one.pem", "two.pem"]',
      '[host."https://b"]', '  client = [["c.cert", "c.key"], ["/p.pem", ""]]',
    ].join('\n'), '/x/hosts.toml', '/etc/certs.d/reg.lan');
    expect(h.endpoints.map((e) => e.client)).toEqual([
      [['/abs/one.pem', ''], ['/etc/certs.d/reg.lan/two.pem', '']],
      [['/etc/certs.d/reg.lan/c.cert', '/etc/certs.d/reg.lan/c.key'], ['/p.pem', '']],
      [['/etc/certs.d/reg.lan/both.pem', '']],
    ]);
  });

  it.each([
    ['bad TOML', 'server = \n', /^\/x\/hosts\.toml:1:\d+: /],
    ['an unknown capability', '[host."https://m"]\ncapabilities = ["pull", "fetch"]\n', /^\/x\/hosts\.toml: host\."https:\/\/m"\.capabilities: unknown capability "fetch" \(pull, resolve or push\)$/],
    ['capabilities as a string', '[host."https://m"]\ncapabilities = "pull"\n', /capabilities: expected an array such as \["pull", "resolve"\]$/],
    ['skip_verify as a string', '[host."https://m"]\nskip_verify = "yes"\n', /skip_verify: expected true or false$/],
    ['a server number', 'server = 5\n', /: server: expected a URL string/],
    ['an ftp host', '[host."ftp://m"]\n', /host\."ftp:\/\/m": "ftp:\/\/m": the scheme must be http or https$/],
    ['userinfo in a host', '[host."https://u:p@m"]\n', /must not carry a user or password/],
    ['a host that is not a table', 'host = 3\n', /host: expected tables/],
    ['a client number', 'client = 3\n', /: client: expected a path, a list of paths, or a list of \[cert, key\] pairs$/],
    ['a client triple', '[host."https://m"]\nclient = [["a", "b", "c"]]\n', /host\."https:\/\/m"\.client: expected a path/],
    ['a header that is not a table', 'header = "x"\n', /: header: expected a table/],
    ['a header number', '[header]\nx-n = 5\n', /: header\.x-n: expected a string or an array of strings \(the value is not shown\)$/],
    ['a header with a line break', '[header]\nx-t = "secret-u:p\\r\\nx-evil: 1"\n', /: header\.x-t: a value holds a line break or NUL \(the value is not shown\)$/],
    ['a bad header name', '[header]\n"x y" = "v"\n', /: header\.x y: not a valid HTTP header name$/],
    ['a reserved header', '[header]\nHost = "v"\n', /: header\.Host: resolver sets this header itself$/],
  ])('%s is a clear error naming the file and key', (_what, text, message) => {
    const e = expectResolverErrorSync(() => parseHostsToml('docker.io', text, '/x/hosts.toml'), 'ERR_CONFIG_INVALID');
    expect(e.message).toMatch(message);
    expect(e.message).not.toContain('u:p');
    expect(e.message).not.toContain('secret');
  });

  propTest.prop([fc.string({ maxLength: 200 })], { numRuns: 3000 })('any text gives endpoints or a ResolverError, never another exception', (text) => {
    try {
      const h = parseHostsToml('docker.io', text, 'f');
      expect(h.endpoints.at(-1)?.upstream).toBe(true);
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
    }
  });

  const tomlish = fc.array(fc.oneof(
    fc.constantFrom('server = "https://up.lan"', '[host."https://m.lan"]', '[host."http://127.0.0.1:5000"]', 'capabilities = ["pull"]', 'capabilities = ["resolve", "pull"]', 'skip_verify = true', 'override_path = true', 'ca = ["a.crt"]', '[host."x".header]', 'x = 1', '[host]', 'capabilities = 5', 'server = ""'),
    fc.string({ maxLength: 20 }),
  ), { maxLength: 8 }).map((lines) => lines.join('\n'));
  propTest.prop([tomlish], { numRuns: 3000 })('near-valid files too: endpoints or a ResolverError naming the file', (text) => {
    try {
      parseHostsToml('docker.io', text, '/f/hosts.toml');
    } catch (error) {
      expect(error).toBeInstanceOf(ResolverError);
      expect((error as Error).message.startsWith('/f/hosts.toml')).toBe(true);
    }
  });
});

describe('namespace folders (containerd HostDirFromRoot)', () => {
  it('host_port_, host:port, then _default', () => {
    expect(namespaceDirs('myregistry.io:5000')).toEqual(['myregistry.io_5000_', 'myregistry.io:5000', '_default']);
    expect(namespaceDirs('docker.io')).toEqual(['docker.io', '_default']);
    expect(namespaceDirs('[::1]')).toEqual(['[::1]', '_default']);
  });
});

describe('daemon.json registry-mirrors', () => {
  it('are Docker Hub pull mirrors ahead of registry-1.docker.io (resolver resolves tags at the origin)', () => {
    const h = daemonJsonMirrors(['https://mirror.gcr.io', 'http://10.0.0.2:5000/'], '/etc/docker/daemon.json');
    expect(h.endpoints.map(brief)).toEqual(['https://mirror.gcr.io/v2 [pull]', 'http://10.0.0.2:5000/v2 [pull]', 'https://registry-1.docker.io/v2 [pull,resolve,push]']);
    expect(endpointsFor(h, 'resolve').map((e) => e.host)).toEqual(['registry-1.docker.io']);
  });
  it('a mirror without a scheme is refused, as dockerd does', () => {
    expect(expectResolverErrorSync(() => daemonJsonMirrors(['mirror.lan'], 'd.json'), 'ERR_CONFIG_INVALID').message).toBe('d.json: registry-mirrors[0]: "mirror.lan" needs an http:// or https:// scheme (dockerd refuses it too)');
  });
});

describe('reading the sources', () => {
  let root = '';
  afterAll(async () => {
    if (root !== '') await rm(root, { recursive: true, force: true });
  });

  it('first root with a file wins; host_port_ before host:port; _default last; daemon.json for docker.io only; YAML wins', async () => {
    root = await mkdtemp(join(tmpdir(), 'mirror-read-'));
    const docker = join(root, 'docker');
    const containerd = join(root, 'containerd');
    const put = async (dir: string, text: string): Promise<void> => {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'hosts.toml'), text);
    };
    await put(join(containerd, 'reg.lan:5000'), '[host."https://c-colon"]\n');
    await put(join(containerd, 'reg.lan_5000_'), '[host."https://c-underscore"]\n');
    await put(join(docker, '_default'), '[host."https://d-default"]\n');
    await put(join(containerd, 'ghcr.io'), '[host."https://c-ghcr"]\n');
    await writeFile(join(root, 'daemon.json'), JSON.stringify({ 'registry-mirrors': ['https://hub-mirror.lan'] }));
    const sources = { hostsDirs: [docker, containerd], daemonConfig: join(root, 'daemon.json'), hosts: {} };
    const first = async (ns: string): Promise<string | undefined> => (await readNamespace(sources, ns))?.endpoints[0]?.host;
    // docker's _default is in the first root, so it wins over containerd's specific folders.
    expect(await first('reg.lan:5000')).toBe('d-default');
    const onlyContainerd = { ...sources, hostsDirs: [containerd] };
    expect((await readNamespace(onlyContainerd, 'reg.lan:5000'))?.endpoints[0]?.host).toBe('c-underscore');
    expect((await readNamespace(onlyContainerd, 'ghcr.io'))?.endpoints[0]?.host).toBe('c-ghcr');
    expect((await readNamespace(onlyContainerd, 'docker.io'))?.endpoints.map((e) => e.host)).toEqual(['hub-mirror.lan', 'registry-1.docker.io']);
    expect(await readNamespace({ ...onlyContainerd, daemonConfig: undefined }, 'docker.io')).toBeUndefined();
    const yaml = mirrorSources({ hostsDirs: [containerd], hosts: { 'ghcr.io': { host: { 'https://y-ghcr': { capabilities: ['pull'] } } } } });
    expect((await readNamespace(yaml, 'ghcr.io'))?.endpoints.map((e) => e.host)).toEqual(['y-ghcr', 'ghcr.io']);
  });

  it('daemon.json: a document that is no object has no mirrors; registry-mirrors that is no list is an error naming it', async () => {
    const read = async (text: string): Promise<unknown> => {
      await writeFile(join(root, 'd.json'), text);
      return readNamespace({ hostsDirs: [], daemonConfig: join(root, 'd.json'), hosts: {} }, 'docker.io');
    };
    expect(await read('[]')).toBeUndefined();
    expect(await read('null')).toBeUndefined();
    expect(await read('{"debug":true}')).toBeUndefined();
    expect(await read('{"registry-mirrors":[]}')).toBeUndefined();
    expect((await expectResolverError(read('{"registry-mirrors":"https://m.lan"}'), 'ERR_CONFIG_INVALID')).message).toBe(`${join(root, 'd.json')}: registry-mirrors: expected an array of URLs`);
    expect((await expectResolverError(read('{"registry-mirrors":'), 'ERR_CONFIG_INVALID')).message).toBe(`${join(root, 'd.json')} is not valid JSON`);
  });

  it('a broken file means no mirrors for that namespace, with one message naming it', async () => {
    const dir = join(root, 'broken', 'docker.io');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'hosts.toml'), '[host."https://m"]\ncapabilities = ["teleport"]\n');
    const problems: string[] = [];
    const table = mirrorTable({ hostsDirs: [join(root, 'broken')], daemonConfig: undefined, hosts: {} }, (m) => problems.push(m));
    expect(await table.hostsFor('docker.io')).toBeUndefined();
    expect(await table.hostsFor('docker.io')).toBeUndefined();
    expect(problems).toEqual([`${join(dir, 'hosts.toml')}: host."https://m".capabilities: unknown capability "teleport" (pull, resolve or push); docker.io is used without mirrors`]);
    await writeFile(join(root, 'bad.json'), '{');
    await expectResolverError(readNamespace({ hostsDirs: [], daemonConfig: join(root, 'bad.json'), hosts: {} }, 'docker.io'), 'ERR_CONFIG_INVALID');
  });
});

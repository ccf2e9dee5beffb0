import { describe, expect, it } from 'vitest';
import { expectResolverErrorSync } from '../../test/fakes/expect-error.js';
import { credentialKey, familiarString, formatReference, parseReference, registryHost, withDefaultTag } from './reference.js';

const d64 = 'dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c';
const hex63 = d64.slice(0, 63);

// shared/spec/registry-protocol.md §1.3: input, canonical, familiar.
const valid: [string, string, string?][] = [
  ['redis', 'docker.io/library/redis', 'redis'],
  ['redis:latest', 'docker.io/library/redis:latest', 'redis:latest'],
  ['library/ubuntu', 'docker.io/library/ubuntu', 'ubuntu'],
  ['docker.io/foo', 'docker.io/library/foo', 'foo'],
  ['docker.io/library/foo/bar', 'docker.io/library/foo/bar', 'library/foo/bar'],
  ['index.docker.io/library/ubuntu-12.04-base', 'docker.io/library/ubuntu-12.04-base', 'ubuntu-12.04-base'],
  ['index.docker.io/fooo/bar', 'docker.io/fooo/bar', 'fooo/bar'],
  ['store/foo/bar', 'docker.io/store/foo/bar', 'store/foo/bar'],
  ['other/library', 'docker.io/other/library', 'other/library'],
  [`dmcgowan/myapp@sha256:${d64}`, `docker.io/dmcgowan/myapp@sha256:${d64}`, `dmcgowan/myapp@sha256:${d64}`],
  ['localhost/fooo', 'localhost/fooo', 'localhost/fooo'],
  ['localhost/fooo/bar', 'localhost/fooo/bar', 'localhost/fooo/bar'],
  ['LOCALDOMAIN/fooo', 'LOCALDOMAIN/fooo', 'LOCALDOMAIN/fooo'],
  ['Foo/bar', 'Foo/bar', 'Foo/bar'],
  ['127.0.0.1:8000/private/moonbase', '127.0.0.1:8000/private/moonbase'],
  ['example.com:8000/privatebasee', 'example.com:8000/privatebasee'],
  ['test.com:8080/foo', 'test.com:8080/foo'],
  ['test-com:8080/foo', 'test-com:8080/foo'],
  ['test_com/foo', 'docker.io/test_com/foo', 'test_com/foo'],
  ['xn--n3h.com:18080/foo', 'xn--n3h.com:18080/foo'],
  ['docker/migrator', 'docker.io/docker/migrator', 'docker/migrator'],
  ['[fc00::1]:5000/docker/docker', '[fc00::1]:5000/docker/docker'],
  ['[fc00:1:2:3:4:5:6:7]:5000/library/debian', '[fc00:1:2:3:4:5:6:7]:5000/library/debian'],
  ['192.168.0.1', 'docker.io/library/192.168.0.1', '192.168.0.1'],
  ['192.168.0.1:80', 'docker.io/library/192.168.0.1:80', '192.168.0.1:80'],
  ['192.168.0.1:8/debian', '192.168.0.1:8/debian'],
  ['localhost', 'docker.io/library/localhost', 'localhost'],
  ['registry-1.docker.io/library/ubuntu', 'registry-1.docker.io/library/ubuntu'],
  [`busybox:latest@sha256:${d64}`, `docker.io/library/busybox:latest@sha256:${d64}`, `busybox:latest@sha256:${d64}`],
  [hex63, `docker.io/library/${hex63}`],
  ['dbcc1', 'docker.io/library/dbcc1', 'dbcc1'],
  [`docker.io/${d64}`, `docker.io/library/${d64}`],
  ['thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev', 'docker.io/library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev'],
  ['dock__er/docker', 'docker.io/dock__er/docker'],
  ['docker---rules/docker', 'docker.io/docker---rules/docker'],
  ['d/docker', 'docker.io/d/docker'],
  ['jess/t', 'docker.io/jess/t'],
  ['lowercase:Uppercase', 'docker.io/library/lowercase:Uppercase'],
  [`example.com/${'a'.repeat(255)}:tag`, `example.com/${'a'.repeat(255)}:tag`],
  [`validname@sha512:${'a'.repeat(128)}`, `docker.io/library/validname@sha512:${'a'.repeat(128)}`],
];

const invalid: [string, RegExp][] = [
  [d64, /64-byte hexadecimal/],
  ['docker/Docker', /repository name \(docker\/Docker\) must be lowercase/],
  ['Uppercase:tag', /repository name \(library\/Uppercase\) must be lowercase/],
  ['https://github.com/docker/docker', /URL scheme/],
  ['-docker', /invalid/],
  ['docker-/docker', /path component "docker-"/],
  ['-docker.io/docker/docker', /registry host "-docker.io"/],
  ['____/____', /invalid/],
  ['_docker/_docker', /invalid/],
  ['dock..er/docker', /invalid/],
  ['dock_.er/docker', /invalid/],
  ['dock-.er/docker', /invalid/],
  ['docker/', /empty path component/],
  ['docker///docker', /empty path component/],
  [':justtag', /invalid/],
  [`@sha256:${'f'.repeat(64)}`, /invalid/],
  ['[fc00::1]:5000', /invalid/],
  ['[fc00::1]', /invalid/],
  ['fc00::1:5000/debian', /registry host/],
  ['[fe80::1%eth0]:5000/debian', /invalid/],
  ['[2001:db8:3:4::192.0.2.33]:5000/debian', /invalid/],
  [`repo@sha256:${'f'.repeat(34)}`, /digest length/],
  [`validname@invaliddigest:${'f'.repeat(64)}`, /unsupported digest algorithm/],
  [`name@sha256:${'F'.repeat(64)}`, /lowercase/],
  [`${'a'.repeat(271)}/docker`, /not be more than 255 characters/],
  [`docker.io/${'a'.repeat(248)}`, /not be more than 255 characters/],
  [`a:${'b'.repeat(129)}`, /tag "b+" is invalid/],
  ['', /at least one component/],
  ['alpine 3', /white space/],
  // Accepted by the grammar but unusable: a port above 65535 or a numeric host that is no IPv4 address (issue 13.12).
  ['localhost:99999/a:b', /registry host "localhost:99999" has port 99999, outside 1-65535/],
  ['127.0.0.1:0/a', /has port 0, outside 1-65535/],
  ['300.1.1.1:5000/a:b', /registry host "300.1.1.1:5000" is not a valid IPv4 address/],
  ['1.2.3:5000/a', /is not a valid IPv4 address/],
  ['010.0.0.1:5000/a', /is not a valid IPv4 address/],
];

describe('parseReference', () => {
  it.each(valid)('%s → %s', (input, canonical, familiar) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(canonical);
    if (familiar !== undefined) expect(familiarString(ref)).toBe(familiar);
  });

  it.each(invalid)('rejects %s', (input, message) => {
    expect(expectResolverErrorSync(() => parseReference(input), 'ERR_REFERENCE_INVALID').message).toMatch(message);
  });

  it('splits domain and path and keeps tag and digest', () => {
    const ref = parseReference(`localhost:5000/team/app:v1@sha256:${d64}`);
    expect(ref).toEqual({ domain: 'localhost:5000', path: 'team/app', tag: 'v1', digest: `sha256:${d64}` });
  });

  it('maps Docker Hub to its API host and credential key', () => {
    const hub = parseReference('alpine');
    expect(registryHost(hub)).toBe('registry-1.docker.io');
    expect(credentialKey(hub)).toBe('https://index.docker.io/v1/');
    const local = parseReference('localhost:5000/x');
    expect(registryHost(local)).toBe('localhost:5000');
    expect(credentialKey(local)).toBe('localhost:5000');
  });

  it('adds latest only without tag and digest', () => {
    expect(withDefaultTag(parseReference('alpine')).tag).toBe('latest');
    expect(withDefaultTag(parseReference(`alpine@sha256:${d64}`)).tag).toBeUndefined();
  });
});

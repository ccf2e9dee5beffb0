/**
 * recreateSpec against inspect documents recorded from real dockerd 20.10 and 26.1 (test/fixtures/engine/, recorded
 * with docker CLI 28: see that folder's README): only what `docker run` overrode is carried, the old image's
 * defaults are not, anonymous volumes keep their data, networks come one in the body and the rest to connect.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ContainerInspect, createLink, ImageInspect, recreateSpec } from './container-spec.js';

const fixtures = join(import.meta.dirname, '../../test/fixtures/engine');
const load = (name: string): unknown => JSON.parse(readFileSync(join(fixtures, name), 'utf8'));
describe.each(['20.10', '26.1'])('recreateSpec (recorded from dockerd %s)', (version) => {
  const container = (name: string): ContainerInspect => ContainerInspect.parse(load(`dockerd-${version}-container-${name}.json`));
  const image = ImageInspect.parse(load(`dockerd-${version}-image-app-v1.json`));

  it('web: carries the overrides (env, labels, user, ports, restart, mounts, networks) and none of the image defaults', () => {
    const web = container('web');
    const spec = recreateSpec(web, image, 'fixture/app:v1');
    expect(spec.name).toBe('web');
    const b = spec.body as Record<string, any>;
    expect(b['Image']).toBe('fixture/app:v1');
    // Env: the container's own (FOO, the overridden APP_MODE), not the image's PATH.
    expect(b['Env']).toEqual(['FOO=bar', 'APP_MODE=dev']);
    expect(b['Labels']).toEqual({ 'resolver.follow': 'true', 'resolver.window': '02:00-04:00' });
    expect(b['User']).toBe('1000:1000');
    // Same as the image: left to the new image.
    for (const key of ['Cmd', 'Entrypoint', 'WorkingDir', 'Healthcheck', 'Volumes', 'Hostname']) expect(b[key], key).toBeUndefined();
    expect(b['ExposedPorts']).toEqual({ '8080/tcp': {}, '9090/tcp': {} });
    expect(b['StopTimeout']).toBe(5);
    const h = b['HostConfig'];
    expect(h.RestartPolicy).toEqual({ Name: 'on-failure', MaximumRetryCount: 3 });
    expect(h.PortBindings).toEqual({ '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '18080' }], '9090/tcp': [{ HostIp: '', HostPort: '' }] });
    expect(h.Binds).toEqual(['vol1:/data', '/tmp/act-dd/bind:/bind:ro']);
    expect(h.Tmpfs).toEqual({ '/run': 'size=1m' });
    expect(h.Memory).toBe(67108864);
    expect(h.CapDrop).toEqual(['CAP_NET_RAW']);
    expect(h.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '1m' } });
    expect(h.NetworkMode).toBe('net-a');
    expect(h.ContainerIDFile).toBeUndefined();
    // /data is covered by the named volume vol1: no anonymous volume is added.
    expect(h.Mounts).toBeUndefined();
    // The network named by NetworkMode goes in the body, without the old container's short-ID alias.
    expect(b['NetworkingConfig']).toEqual({ EndpointsConfig: { 'net-a': { Aliases: ['web-alias'] } } });
    expect(spec.networks).toEqual([{ name: 'net-b', endpoint: { Aliases: ['b-alias'] } }]);
  });

  it('plain: a container with no overrides is only its image, its host config and its anonymous volume', () => {
    const plain = container('plain');
    const spec = recreateSpec(plain, image, 'fixture/app:v1');
    const b = spec.body as Record<string, any>;
    expect(Object.keys(b).sort()).toEqual(['HostConfig', 'Image']);
    // The image's VOLUME /data got an anonymous volume: carried by name, so its data survives the recreate.
    const anonymous = plain.Mounts?.[0]?.Name;
    expect(anonymous).toMatch(/^[0-9a-f]{64}$/);
    expect(b['HostConfig'].Mounts).toEqual([{ Type: 'volume', Source: anonymous, Target: '/data', ReadOnly: false }]);
    expect(b['HostConfig'].NetworkMode).toBe('none');
    expect(b['NetworkingConfig']).toBeUndefined();
    expect(spec.networks).toEqual([]);
  });

  it('custom: an overridden entrypoint carries its own Cmd; a changed healthcheck carries only the fields that differ', () => {
    const spec = recreateSpec(container('custom'), image, 'fixture/app:v1');
    const b = spec.body as Record<string, any>;
    expect(b['Entrypoint']).toEqual(['/bin/sleep']);
    expect(b['Cmd']).toEqual(['1000']);
    expect(b['WorkingDir']).toBe('/tmp');
    expect(b['Hostname']).toBe('myhost');
    // --health-cmd true --health-interval 1s: Timeout and Retries equal the image's and are left to the new image.
    expect(b['Healthcheck']).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 1_000_000_000 });
    expect(b['Env']).toBeUndefined();
    expect(b['Labels']).toBeUndefined();
  });

  it('without the old image (removed), everything the inspect shows is carried', () => {
    const b = recreateSpec(container('web'), undefined, 'fixture/app:v1').body as Record<string, any>;
    expect(b['Env']).toEqual(['FOO=bar', 'APP_MODE=dev', 'PATH=/bin']);
    expect(b['Cmd']).toEqual(['touch /tmp/healthy; exec sleep 3600']);
  });

  it('the new image defaults apply: a Cmd equal to the old image default is not pinned', () => {
    const web = container('web');
    const changed = ContainerInspect.parse({ ...web, Config: { ...web.Config, Cmd: ['other'] } });
    expect((recreateSpec(changed, image, 'x').body as Record<string, any>)['Cmd']).toEqual(['other']);
    expect((recreateSpec(web, image, 'x').body as Record<string, any>)['Cmd']).toBeUndefined();
  });

  it.each([
    ['/db:/web/db', 'db:db'],
    ['/other:/web/alias', 'other:alias'],
  ])('legacy link %s is created as %s', (inspect, create) => {
    expect(createLink(inspect)).toBe(create);
  });
});

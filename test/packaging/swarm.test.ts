/**
 * The Swarm global service file (issue 12 §6): valid YAML, a global service, the device identity from the
 * node (`{{.Node.ID}}`), the engine socket mounted, a read-only root filesystem, the state on a volume, and
 * the data root mounted read-only where `RESOLVER_PREFLIGHT_PATH` points.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const file = readFileSync(new URL('../../packaging/swarm/resolver-stack.yml', import.meta.url), 'utf8');

describe('packaging/swarm/resolver-stack.yml', () => {
  it('is valid YAML (strict: no duplicate keys) with one global service', () => {
    const doc = parse(file, { uniqueKeys: true, strict: true });
    expect(Object.keys(doc.services)).toEqual(['resolver']);
    expect(doc.services.resolver.deploy.mode).toBe('global');
  });

  it('takes the device identity from the node, mounts the socket, runs read-only, keeps state on a volume', () => {
    const svc = parse(file).services.resolver;
    expect(svc.hostname).toBe('{{.Node.ID}}');
    expect(svc.read_only).toBe(true);
    const mounts = svc.volumes as { type: string; source: string; target: string; read_only?: boolean }[];
    expect(mounts).toContainEqual({ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' });
    expect(mounts.find((m) => m.target === svc.environment.RESOLVER_STATE_DIR)?.type).toBe('volume');
    const dataRoot = mounts.find((m) => m.target === svc.environment.RESOLVER_PREFLIGHT_PATH);
    expect(dataRoot).toMatchObject({ type: 'bind', source: '/var/lib/docker', read_only: true });
    expect(svc.command).toEqual(['daemon', '--config', svc.configs[0].target]);
  });
});

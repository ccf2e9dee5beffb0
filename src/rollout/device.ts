/**
 * The device id that splay, retry jitter and rollout cohorts are derived from (issue 12 §3): the config's
 * `rollout.deviceId`, else systemd's `/etc/machine-id` (path configurable: `rollout.machineIdFile`), else the
 * host name. It is stable across restarts and unique per installed system even where a fleet was cloned
 * from one image with one host name (`raspberrypi`). It is only ever hashed (SHA-256 with the image or the
 * child), never printed, logged or sent: machine-id(5) asks for that.
 */
import { readFile } from 'node:fs/promises';

export { hashParts, unitOf } from './cohort.js';

/** Where the id came from. */
export type DeviceIdSource = 'config' | 'machine-id' | 'hostname';

/** Resolves the device id. `read` is injectable (tests); a missing or empty machine-id falls back to the host name. */
export async function deviceIdOf(o: { readonly configured: string | undefined; readonly machineIdFile: string; readonly hostname: string; readonly read?: (path: string) => Promise<string> }): Promise<{ id: string; source: DeviceIdSource }> {
  if (o.configured !== undefined && o.configured.trim() !== '') return { id: o.configured.trim(), source: 'config' };
  const text = await (o.read ?? ((p: string) => readFile(p, 'utf8')))(o.machineIdFile).catch(() => '');
  const id = text.trim();
  if (/^[0-9a-f]{32}$/i.test(id)) return { id: id.toLowerCase(), source: 'machine-id' };
  return { id: o.hostname, source: 'hostname' };
}

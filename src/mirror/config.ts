/**
 * The `mirrors:` fragment of the daemon's config (issue 12 §1; docs/mirrors.md): where the engine's mirror
 * files are, and resolver's own per-namespace hosts with the fields of a containerd `hosts.toml`. Pure.
 */
import { z } from 'zod';
import { ResolverError } from '../errors.js';
import { defaultDaemonConfig, defaultHostsDirs, hostsFromObject, type MirrorSources } from './hosts.js';

const Namespace = z.string().regex(/^(_default|[A-Za-z0-9.-]+(:\d+)?|\[[0-9A-Fa-f:.]+\](:\d+)?)$/, 'a registry host such as docker.io or registry.lan:5000, or _default');

const MirrorsSchema = z.strictObject({
  hostsDirs: z.array(z.string().min(1)).optional().describe(`folders holding HOST/hosts.toml, first wins; default ${defaultHostsDirs.join(', ')}; [] reads none`),
  daemonConfig: z.union([z.string().min(1), z.literal(false)]).optional().describe(`dockerd's daemon.json, for registry-mirrors (Docker Hub only); default ${defaultDaemonConfig}; false reads none`),
  hosts: z
    .record(Namespace, z.record(z.string(), z.unknown()))
    .optional()
    .describe('per registry (or _default): the fields of a containerd hosts.toml (server, [host."URL"] capabilities/skip_verify/override_path/ca/client/header; use absolute paths); wins over the files')
    .superRefine((hosts, ctx) => {
      for (const [ns, fields] of Object.entries(hosts ?? {})) {
        try {
          hostsFromObject(ns, fields, `mirrors.hosts.${ns}`);
        } catch (error) {
          ctx.addIssue({ code: 'custom', path: [ns], message: error instanceof ResolverError ? error.message.replace(/^mirrors\.hosts\.[^:]+: /, '') : String(error) });
        }
      }
    }),
});
export type MirrorsConfig = z.infer<typeof MirrorsSchema>;

/** The `mirrors:` field of config/schema.ts. */
export const mirrorsField = MirrorsSchema.nullish()
  .transform((v) => v ?? undefined)
  .describe('registry mirrors (containerd hosts.toml semantics; docs/mirrors.md); default: the engine\'s own files');

/** The sources a config names, with the defaults. */
export function mirrorSources(config: MirrorsConfig | undefined): MirrorSources {
  return {
    hostsDirs: config?.hostsDirs ?? [...defaultHostsDirs],
    daemonConfig: config?.daemonConfig === false ? undefined : (config?.daemonConfig ?? defaultDaemonConfig),
    hosts: config?.hosts ?? {},
  };
}

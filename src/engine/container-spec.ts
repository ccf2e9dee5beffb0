/**
 * A container re-created from `docker inspect` (issue 11 §3, docs/activation.md "What is carried over"):
 * the body of `POST /containers/create` that gives a new container the same configuration on a new image.
 *
 * The subtlety: the inspect `Config` merges the image's config with what `docker run` overrode (moby's
 * `merge` in daemon/create: Env, Labels, Volumes, ExposedPorts are unions; Cmd, Entrypoint, User, WorkingDir,
 * Healthcheck fields, StopSignal fall back to the image's). Copying it whole would pin the old image's defaults
 * onto the new image (its new PATH, a changed CMD, a new label). So every merged field is diffed against the
 * OLD image's config and only what the container overrode is carried; the new image's defaults then apply —
 * the rule of Watchtower's `GetCreateConfig` and of docker compose's recreate. HostConfig is the container's own
 * (nothing of it comes from the image) and is carried whole but for the fields listed in `droppedHostConfig`.
 * Anonymous volumes (an image `VOLUME` with no bind or named volume over it) are carried by name, as compose
 * does, so the data in them survives. Networks: the first goes into the create body, the others are returned
 * to be connected one by one (the create API takes one network before API 1.44).
 * Pure: no IO.
 */
import { z } from 'zod';

const StringList = z.array(z.string()).nullish();
const StringMap = z.record(z.string(), z.string()).nullish();
const Set_ = z.record(z.string(), z.unknown()).nullish();

/** HEALTHCHECK as the Engine API spells it (durations in nanoseconds). */
export const Healthcheck = z.looseObject({
  Test: StringList,
  Interval: z.number().nullish(),
  Timeout: z.number().nullish(),
  Retries: z.number().nullish(),
  StartPeriod: z.number().nullish(),
  StartInterval: z.number().nullish(),
});
export type Healthcheck = z.infer<typeof Healthcheck>;

/** The `Config` of a container or an image (the fields read here; the rest passes through). */
export const ContainerConfig = z.looseObject({
  Hostname: z.string().nullish(),
  Domainname: z.string().nullish(),
  User: z.string().nullish(),
  ExposedPorts: Set_,
  Tty: z.boolean().nullish(),
  OpenStdin: z.boolean().nullish(),
  StdinOnce: z.boolean().nullish(),
  Env: StringList,
  Cmd: StringList,
  Healthcheck: Healthcheck.nullish(),
  ArgsEscaped: z.boolean().nullish(),
  Image: z.string().nullish(),
  Volumes: Set_,
  WorkingDir: z.string().nullish(),
  Entrypoint: StringList,
  NetworkDisabled: z.boolean().nullish(),
  MacAddress: z.string().nullish(),
  OnBuild: StringList,
  Labels: StringMap,
  StopSignal: z.string().nullish(),
  StopTimeout: z.number().nullish(),
  Shell: StringList,
});
export type ContainerConfig = z.infer<typeof ContainerConfig>;

/** One network of `NetworkSettings.Networks`. */
export const EndpointInspect = z.looseObject({
  IPAMConfig: z.looseObject({ IPv4Address: z.string().nullish(), IPv6Address: z.string().nullish(), LinkLocalIPs: StringList }).nullish(),
  Links: StringList,
  Aliases: StringList,
  DriverOpts: StringMap,
  NetworkID: z.string().nullish(),
  MacAddress: z.string().nullish(),
});

/** One entry of `Mounts`. */
export const MountInspect = z.looseObject({
  Type: z.string(),
  Name: z.string().nullish(),
  Source: z.string().nullish(),
  Destination: z.string(),
  Driver: z.string().nullish(),
  RW: z.boolean().nullish(),
});

/** `State` of a container. */
export const ContainerState = z.looseObject({
  Status: z.string(),
  Running: z.boolean(),
  Restarting: z.boolean().nullish(),
  ExitCode: z.number().nullish(),
  StartedAt: z.string().nullish(),
  FinishedAt: z.string().nullish(),
  Error: z.string().nullish(),
  Health: z.looseObject({ Status: z.string(), FailingStreak: z.number().nullish() }).nullish(),
});
export type ContainerState = z.infer<typeof ContainerState>;

/** `GET /containers/{id}/json`. */
export const ContainerInspect = z.looseObject({
  Id: z.string(),
  Name: z.string(),
  /** The image ID. */
  Image: z.string(),
  RestartCount: z.number().nullish(),
  State: ContainerState,
  Config: ContainerConfig,
  HostConfig: z.record(z.string(), z.unknown()),
  NetworkSettings: z.looseObject({ Networks: z.record(z.string(), EndpointInspect).nullish() }).nullish(),
  Mounts: z.array(MountInspect).nullish(),
});
export type ContainerInspect = z.infer<typeof ContainerInspect>;

/** `GET /images/{name}/json`: the fields read here. */
export const ImageInspect = z.looseObject({
  Id: z.string(),
  RepoTags: StringList,
  RepoDigests: StringList,
  Config: ContainerConfig.nullish(),
});
export type ImageInspect = z.infer<typeof ImageInspect>;

/** An endpoint as `POST /containers/create` (NetworkingConfig) and `POST /networks/{id}/connect` take it. */
export interface EndpointConfig {
  readonly IPAMConfig?: { readonly IPv4Address?: string; readonly IPv6Address?: string; readonly LinkLocalIPs?: readonly string[] } | undefined;
  readonly Links?: readonly string[] | undefined;
  readonly Aliases?: readonly string[] | undefined;
  readonly DriverOpts?: Readonly<Record<string, string>> | undefined;
}

/** The body of `POST /containers/create`. */
export type CreateContainerBody = Readonly<Record<string, unknown>> & {
  readonly Image: string;
  readonly HostConfig: Readonly<Record<string, unknown>>;
  readonly NetworkingConfig?: { readonly EndpointsConfig: Readonly<Record<string, EndpointConfig>> } | undefined;
};

/** What re-creating a container takes: its name, the create body, the networks to connect after create. */
export interface RecreateSpec {
  readonly name: string;
  readonly body: CreateContainerBody;
  readonly networks: readonly { readonly name: string; readonly endpoint: EndpointConfig }[];
}

/**
 * HostConfig fields not carried: `ContainerIDFile` is the docker CLI's (the engine ignores it), and Mounts is
 * rebuilt (the container's own plus its anonymous volumes).
 */
export const droppedHostConfig = ['ContainerIDFile'] as const;

const sameList = (a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): boolean => {
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
};

/** `a` without the entries of `b` (order kept). */
function subtract(a: readonly string[] | null | undefined, b: readonly string[] | null | undefined): string[] {
  const drop = new Set(b ?? []);
  return (a ?? []).filter((v) => !drop.has(v));
}

/** Keys of `a` whose value differs in `b` (or is absent there). */
function subtractMap<V>(a: Readonly<Record<string, V>> | null | undefined, b: Readonly<Record<string, V>> | null | undefined, same: (x: V, y: V) => boolean): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of Object.entries(a ?? {})) {
    const other = b?.[k];
    if (other === undefined || !same(v, other)) out[k] = v;
  }
  return out;
}

/** The healthcheck fields the container overrode (0/empty means "the image's", as the create API reads them). */
function healthOverride(container: Healthcheck | null | undefined, image: Healthcheck | null | undefined): Healthcheck | undefined {
  if (container === null || container === undefined) return undefined;
  if (image === null || image === undefined) return container;
  const out: Record<string, unknown> = {};
  if (!sameList(container.Test, image.Test)) out['Test'] = container.Test;
  for (const key of ['Interval', 'Timeout', 'Retries', 'StartPeriod', 'StartInterval'] as const) {
    const v = container[key];
    if (v !== undefined && v !== null && v !== 0 && v !== image[key]) out[key] = v;
  }
  return Object.keys(out).length === 0 ? undefined : (out);
}

/** The network mode's kind: a user or default network gets an endpoint; host, none, container: do not. */
function sharesNamespace(mode: string): boolean {
  return mode === 'host' || mode === 'none' || mode.startsWith('container:');
}

/** `/other:/web/alias` (inspect's form of a legacy link) as create takes it: `other:alias`. */
export function createLink(link: string): string {
  const [target = '', alias = ''] = link.split(':');
  return `${target.replace(/^\//, '')}:${alias.slice(alias.lastIndexOf('/') + 1)}`;
}

/**
 * The create body that gives a container on `image` the configuration `container` has, carrying only what the
 * container overrode relative to `oldImage` (the image it was created from; see the header).
 * @param image the image to create from, as the container names it (its `Config.Image`, e.g. `app:stable`).
 */
export function recreateSpec(container: ContainerInspect, oldImage: ImageInspect | undefined, image: string): RecreateSpec {
  const c = container.Config;
  const i = oldImage?.Config ?? {};
  const host: Record<string, unknown> = { ...container.HostConfig };
  for (const key of droppedHostConfig) Reflect.deleteProperty(host, key);
  const mode = typeof host['NetworkMode'] === 'string' ? host['NetworkMode'] : 'default';

  const config: Record<string, unknown> = {};
  // The engine sets Hostname to the short container ID when none is given: that one belongs to the old container;
  // with the host's or another container's UTS namespace the hostname is not the container's to set.
  if (c.Hostname !== undefined && c.Hostname !== null && c.Hostname !== '' && c.Hostname !== container.Id.slice(0, 12) && mode !== 'host' && !mode.startsWith('container:')) config['Hostname'] = c.Hostname;
  if (c.Domainname !== undefined && c.Domainname !== null && c.Domainname !== '') config['Domainname'] = c.Domainname;
  if ((c.User ?? '') !== (i.User ?? '')) config['User'] = c.User ?? '';
  if ((c.WorkingDir ?? '') !== (i.WorkingDir ?? '')) config['WorkingDir'] = c.WorkingDir ?? '';
  for (const key of ['Tty', 'OpenStdin', 'StdinOnce', 'NetworkDisabled'] as const) if (c[key] === true) config[key] = true;
  if (!sameList(c.Entrypoint, i.Entrypoint)) {
    // An overridden entrypoint: the engine then ignores the image's CMD, so the container's Cmd is its own.
    config['Entrypoint'] = c.Entrypoint ?? [];
    config['Cmd'] = c.Cmd ?? [];
  } else if (!sameList(c.Cmd, i.Cmd)) {
    config['Cmd'] = c.Cmd ?? [];
  }
  const env = subtract(c.Env, i.Env);
  if (env.length > 0) config['Env'] = env;
  const labels = subtractMap(c.Labels, i.Labels, (x, y) => x === y);
  if (Object.keys(labels).length > 0) config['Labels'] = labels;
  const volumes = subtractMap(c.Volumes, i.Volumes, () => true);
  if (Object.keys(volumes).length > 0) config['Volumes'] = volumes;
  const ports = subtractMap(c.ExposedPorts, i.ExposedPorts, () => true);
  for (const port of Object.keys((host['PortBindings'] ?? {}))) ports[port] = {};
  if (Object.keys(ports).length > 0) config['ExposedPorts'] = ports;
  const health = healthOverride(c.Healthcheck, i.Healthcheck);
  if (health !== undefined) config['Healthcheck'] = health;
  if ((c.StopSignal ?? '') !== (i.StopSignal ?? '') && c.StopSignal !== undefined && c.StopSignal !== null) config['StopSignal'] = c.StopSignal;
  if (c.StopTimeout !== undefined && c.StopTimeout !== null) config['StopTimeout'] = c.StopTimeout;
  if (!sameList(c.Shell, i.Shell) && c.Shell !== undefined && c.Shell !== null) config['Shell'] = c.Shell;

  // Legacy links, in create's form.
  if (Array.isArray(host['Links'])) host['Links'] = (host['Links'] as unknown[]).filter((l): l is string => typeof l === 'string').map(createLink);
  // Anonymous volumes: an image VOLUME the container got a fresh volume for; carried by name so its data stays.
  const covered = new Set<string>([
    ...((Array.isArray(host['Binds']) ? host['Binds'] : []) as string[]).map((b) => b.split(':')[1] ?? ''),
    ...((Array.isArray(host['Mounts']) ? host['Mounts'] : []) as { Target?: string }[]).map((m) => m.Target ?? ''),
    ...Object.keys((host['Tmpfs'] ?? {})),
  ]);
  const anonymous = (container.Mounts ?? [])
    .filter((m) => m.Type === 'volume' && typeof m.Name === 'string' && m.Name !== '' && !covered.has(m.Destination))
    .map((m) => ({ Type: 'volume', Source: m.Name, Target: m.Destination, ReadOnly: m.RW === false }));
  if (anonymous.length > 0) host['Mounts'] = [...((Array.isArray(host['Mounts']) ? host['Mounts'] : []) as unknown[]), ...anonymous];

  const shortId = container.Id.slice(0, 12);
  const endpoints = Object.entries(container.NetworkSettings?.Networks ?? {}).map(([name, e]) => {
    const endpoint: Record<string, unknown> = {};
    const ipam = e.IPAMConfig;
    if (ipam !== null && ipam !== undefined && (ipam.IPv4Address ?? ipam.IPv6Address ?? ipam.LinkLocalIPs?.length) !== undefined) {
      endpoint['IPAMConfig'] = Object.fromEntries(Object.entries({ IPv4Address: ipam.IPv4Address, IPv6Address: ipam.IPv6Address, LinkLocalIPs: ipam.LinkLocalIPs }).filter(([, v]) => v !== undefined && v !== null && v !== ''));
    }
    if (e.Links !== undefined && e.Links !== null && e.Links.length > 0) endpoint['Links'] = e.Links.map(createLink);
    // The engine adds the short container ID as an alias on user networks: the old one's must not accumulate.
    const aliases = (e.Aliases ?? []).filter((a) => a !== shortId);
    if (aliases.length > 0) endpoint['Aliases'] = aliases;
    if (e.DriverOpts !== undefined && e.DriverOpts !== null && Object.keys(e.DriverOpts).length > 0) endpoint['DriverOpts'] = e.DriverOpts;
    return { name, endpoint: endpoint };
  });
  const attached = sharesNamespace(mode) ? [] : endpoints;
  const first = attached.find((n) => n.name === mode) ?? attached[0];
  const body: CreateContainerBody = {
    ...config,
    Image: image,
    HostConfig: host,
    ...(first === undefined ? {} : { NetworkingConfig: { EndpointsConfig: { [first.name]: first.endpoint } } }),
  };
  return { name: container.Name.replace(/^\//, ''), body, networks: attached.filter((n) => n !== first) };
}

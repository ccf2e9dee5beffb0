/**
 * The `metrics:` section of the config (the daemon's HTTP endpoint: health, metrics and the /v1 API), as a
 * fragment that `config/schema.ts` embeds. Pure: the address checker is passed in (it lives in config/).
 * A listen address off loopback needs a bearer token, read from a file or a systemd credential (never
 * written in the config itself); without one the config is refused, naming the key and the fix.
 */
import { z } from 'zod';

/** Where the bearer token is read from: a file, or `$CREDENTIALS_DIRECTORY/NAME` (systemd `LoadCredential=`). */
export const TokenSource = z.union([
  z.strictObject({ file: z.string().min(1).describe('read the token from this file (trailing newline removed)') }),
  z.strictObject({ credential: z.string().regex(/^[A-Za-z0-9_.@-]+$/, 'a credential name as in LoadCredential=NAME:PATH').describe('read $CREDENTIALS_DIRECTORY/NAME (systemd LoadCredential=)') }),
], {
  // A token written inline is refused (docs/api.md): say so and how, never echoing the value.
  error: (issue) => (typeof issue.input === 'string'
    ? 'the token is not written in the config (a secret does not belong in a shared, backed-up file): put it in a file and give token: {file: /etc/resolver/api-token} (or tokenFile: PATH), or {credential: NAME} with systemd LoadCredential= (docs/api.md)'
    : undefined),
});
export type TokenSource = z.infer<typeof TokenSource>;

/** The parsed `metrics:` section. */
export interface ApiConfig {
  /** `host:port` to serve on. */
  readonly listen: string;
  /** The bearer token's source; every path but /healthz then needs `Authorization: Bearer TOKEN`. */
  readonly token: TokenSource | undefined;
  /** PEM files: serve HTTPS instead of HTTP. */
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
}

/** Why `listen` is not usable (`loopbackOnly`: it must also be a loopback address), or undefined. */
export type ListenCheck = (listen: string, options: { readonly loopbackOnly: boolean }) => string | undefined;

/** The `metrics:` schema; `listenProblem` checks the address (config/values.ts). */
export function apiConfigSchema(listenProblem: ListenCheck) {
  return z
    .strictObject({
      listen: z.string().describe('serve /healthz, /readyz, /metrics and the /v1 API here: a loopback address such as 127.0.0.1:9464, or any address (0.0.0.0:9464, [::]:9464) when a token is set'),
      token: TokenSource.optional().describe('bearer token for every path but /healthz: {file: PATH} or {credential: NAME}; required off loopback'),
      tokenFile: z.string().min(1).optional().describe('shorthand for token: {file: PATH}'),
      tls: z
        .strictObject({
          cert: z.string().min(1).describe('PEM certificate (chain) file'),
          key: z.string().min(1).describe('PEM private key file'),
        })
        .optional()
        .describe('serve HTTPS with these files; default plain HTTP (or put a reverse proxy in front: docs/api.md)'),
    })
    .superRefine((m, ctx) => {
      if (m.token !== undefined && m.tokenFile !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['tokenFile'], message: 'give either token or tokenFile, not both' });
      }
      const problem = listenProblem(m.listen, { loopbackOnly: m.token === undefined && m.tokenFile === undefined });
      if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['listen'], message: problem });
    })
    .transform((m): ApiConfig => ({ listen: m.listen, token: m.token ?? (m.tokenFile === undefined ? undefined : { file: m.tokenFile }), tls: m.tls }));
}

/**
 * Environment variables that name a SaltAPI, honoured by every `solution` cluster command and
 * printed by `solution emulator up`.
 *
 * @module
 */
import { ClusterError } from '../errors.js';
import type { SaltApiOptions } from './salt-api.js';

/** Names of the SaltAPI environment variables. */
export const SALT_API_ENV = {
  url: 'METALK8S_SALT_API_URL',
  username: 'METALK8S_SALT_API_USERNAME',
  token: 'METALK8S_SALT_API_TOKEN',
  /** Path of a PEM CA bundle for an `https` URL. */
  caFile: 'METALK8S_SALT_API_CA_FILE',
} as const;

/**
 * Environment variable naming MetalK8s' control-plane ingress (`https://<ip>:8443`), through which
 * the CLI reaches Prometheus, Alertmanager and Loki; printed by `solution emulator up --monitoring`.
 */
export const INGRESS_URL_ENV = 'METALK8S_INGRESS_URL';

/** SaltAPI settings read from the environment (the CA as a file path, not yet read). */
export type SaltApiEnv = Pick<SaltApiOptions, 'url' | 'username' | 'token'> & { readonly caFile?: string | undefined };

/**
 * Reads the SaltAPI settings from environment variables, or `undefined` when none is set.
 * Throws `SALT_API_ENV_INCOMPLETE` when some but not all of URL, username and token are set.
 *
 * @example
 * ```ts
 * const env = saltApiFromEnv(process.env);
 * if (env) new SaltApiClient(env);
 * ```
 */
export function saltApiFromEnv(env: Readonly<Record<string, string | undefined>>): SaltApiEnv | undefined {
  const url = env[SALT_API_ENV.url];
  const username = env[SALT_API_ENV.username];
  const token = env[SALT_API_ENV.token];
  const caFile = env[SALT_API_ENV.caFile];
  if (!url && !username && !token) return undefined;
  const missing = [
    [SALT_API_ENV.url, url],
    [SALT_API_ENV.username, username],
    [SALT_API_ENV.token, token],
  ]
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0 || !url || !username || !token) {
    throw new ClusterError('SALT_API_ENV_INCOMPLETE', `SaltAPI settings are incomplete: ${missing.join(', ')} not set`, {
      hint: 'Set all of them, or none (e.g. `eval "$(solution emulator up)"` sets them all).',
    });
  }
  return { url, username, token, ...(caFile ? { caFile } : {}) };
}

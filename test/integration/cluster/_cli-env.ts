/**
 * The environment the built CLI reads its connection from, as `eval "$(solution emulator up)"`
 * sets it, for an emulator on the shared control plane.
 */
import { inject } from 'vitest';
import { SALT_API_ENV } from '../../../src/cluster/index.js';
import type { MetalK8sEmulator } from '../../../src/testing/index.js';

export function cliEnv(mk8s: MetalK8sEmulator): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: inject('kubeconfig'),
    [SALT_API_ENV.url]: mk8s.saltApi.url,
    [SALT_API_ENV.username]: mk8s.saltApi.username,
    [SALT_API_ENV.token]: mk8s.saltApi.token,
  };
}

/** Runs the built CLI (`dist/cli.js`) as a user would, collecting its exit code and outputs. */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** Path of the built CLI. */
export const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../dist/cli.js');

/** Runs `solution <args>` with `env`; never throws for a non-zero exit. */
export async function runCli(env: NodeJS.ProcessEnv, args: readonly string[], timeoutMs = 180_000): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await pexec(process.execPath, [CLI, ...args], { env, timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** The environment `solution emulator up` gives: the kubeconfig and the emulated SaltAPI. */
export function emulatorEnv(kubeconfigPath: string, saltApi: { url: string; username: string; token: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: kubeconfigPath,
    METALK8S_SALT_API_URL: saltApi.url,
    METALK8S_SALT_API_USERNAME: saltApi.username,
    METALK8S_SALT_API_TOKEN: saltApi.token,
  };
}

/**
 * Writes the emulator's kubeconfig (0600) and SaltAPI CA into `dir` and returns the environment
 * `eval "$(solution emulator up)"` gives, CA file included, plus `extra` variables.
 */
export async function writeEmulatorEnv(
  dir: string,
  mk8s: { kubeconfigYaml: string; saltApi: { url: string; username: string; token: string; ca?: string | undefined } },
  extra: Readonly<Record<string, string | undefined>> = {},
): Promise<NodeJS.ProcessEnv> {
  const kubeconfig = path.join(dir, 'kubeconfig');
  const caFile = path.join(dir, 'salt-ca.crt');
  await writeFile(kubeconfig, mk8s.kubeconfigYaml, { mode: 0o600 });
  await writeFile(caFile, mk8s.saltApi.ca ?? '');
  return { ...emulatorEnv(kubeconfig, mk8s.saltApi), METALK8S_SALT_API_CA_FILE: caFile, ...extra };
}

/**
 * The emulator's `repositories` registry: real nginx serving every imported Solution's `images/`
 * through the ISO's own `registry-config.inc.j2`, rendered as Salt renders it
 * (metalk8s-reference.md §1.5), and reloaded when an import changes them.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ClusterError } from '../errors.js';
import { registryCommonConfig } from '../packaging/images/registry-layout.js';
import { NGINX_TEMP_DIRS, staticRegistryNginxConf } from './_nginx.js';
import { freePort } from './_ports.js';
import { type Daemon, startDaemon } from './_process.js';

const pexec = promisify(execFile);

/** The running `repositories` registry. */
export interface RepositoriesRegistry {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** Checks the configuration, reloads nginx and waits until the registry answers again. */
  reload(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts nginx over `repoDir`, with the `*.inc` snippets of `confD` (one per imported Solution). */
export async function startRepositoriesRegistry(repoDir: string, confD: string): Promise<RepositoriesRegistry> {
  const port = await freePort();
  for (const t of NGINX_TEMP_DIRS) await mkdir(join(repoDir, t), { recursive: true });
  await writeFile(join(repoDir, '99-registry-common.inc'), registryCommonConfig());
  const nginxConf = join(repoDir, 'nginx.conf');
  await writeFile(nginxConf, staticRegistryNginxConf(repoDir, port, [`${repoDir}/99-registry-common.inc`, `${confD}/*.inc`]));
  await pexec('nginx', ['-v']).catch((err: Error) => {
    throw new ClusterError('NGINX_MISSING', `the emulator serves imported Solution images with nginx, which cannot be run (${err.message})`, { hint: 'Install it (apt-get install nginx).', cause: err });
  });
  const nginx: Daemon = startDaemon('nginx', 'nginx', ['-c', nginxConf, '-p', repoDir], join(repoDir, 'nginx.log'));
  const registryUrl = `http://127.0.0.1:${port}`;
  const registryAnswers = async (): Promise<boolean> => {
    try {
      const res = await fetch(`${registryUrl}/v2/`);
      return res.status === 200;
    } catch {
      return false;
    }
  };
  for (let i = 0; !(await registryAnswers()); i++) {
    if (i > 200 || nginx.child.exitCode !== null) throw new ClusterError('NGINX_FAILED', `nginx did not start: ${nginx.tail()}`, { hint: `See ${nginx.log}.` });
    await new Promise((r) => setTimeout(r, 50));
  }
  const reloadNginx = async (): Promise<void> => {
    await pexec('nginx', ['-t', '-q', '-c', nginxConf, '-p', repoDir]).catch((err: Error & { stderr?: string }) => {
      throw new ClusterError('NGINX_FAILED', `nginx refuses the registry configuration: ${err.stderr ?? err.message}`, { cause: err });
    });
    const before = (await readFile(join(repoDir, 'nginx.pid'), 'utf8')).trim();
    process.kill(Number(before), 'SIGHUP');
    // The old workers finish their requests; give the new configuration a moment to load.
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; !(await registryAnswers()); i++) {
      if (i > 100) throw new ClusterError('NGINX_FAILED', `the repositories registry does not answer after a reload: ${nginx.tail()}`, { hint: `See ${nginx.log}.` });
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { url: registryUrl, reload: reloadNginx, stop: () => nginx.stop() };
}

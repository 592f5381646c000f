/**
 * Starts a real salt-master and salt-api (rest_cherrypy) on 127.0.0.1 in a temporary root, for
 * the SaltAPI conformance suite. The master has no minions. Its external auth is the project's
 * `kubernetes_rbac` module (test/fixtures/cluster/salt/_auth), which checks tokens against a
 * real kube-apiserver as MetalK8s does (TokenReview with the master's kubeconfig,
 * SelfSubjectAccessReview with the user's token), with MetalK8s' ACL: `node-admins%` and the
 * storage-operator account. Salt comes from scripts/install-salt.sh (a venv in
 * $SDK_CACHE_DIR), installed on first use.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { freePort } from '../../src/testing/_ports.js';
import { mintServiceAccountToken } from '../../src/testing/index.js';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fixtures = path.join(repo, 'test/fixtures/cluster/salt');

/** A running salt-api and the credentials the conformance suite logs in with. */
export interface RealSaltApi {
  readonly url: string;
  readonly username: string;
  readonly token: string;
  /** Master id: runner results are keyed by it. */
  readonly masterId: string;
  /** A user limited like MetalK8s' storage-operator. */
  readonly limited: { readonly username: string; readonly token: string };
  /** A user with a valid token who is not a node-admin (no RBAC on nodes). */
  readonly unprivileged: { readonly username: string; readonly token: string };
  /** Invalidates every issued SaltAPI token, as a salt-api restart does. */
  revokeTokens(): Promise<void>;
  /**
   * Starts a real salt-minion with this id that joins the master (keys auto-accepted), and
   * waits until it answers `test.ping`.
   */
  startMinion(id: string): Promise<{ stop(): Promise<void> }>;
  stop(): Promise<void>;
}

/** Installs (first time) and locates the salt venv; throws a readable error when it cannot. */
export async function saltVenv(): Promise<string> {
  try {
    const { stdout } = await run('bash', [path.join(repo, 'scripts/install-salt.sh')], {
      maxBuffer: 1 << 24,
      timeout: 15 * 60_000,
    });
    return stdout.trim().split('\n').pop() ?? '';
  } catch (err) {
    const detail = err instanceof Error ? err.message : String(err);
    throw new Error(
      `cannot install salt-master/salt-api for the SaltAPI tests (scripts/install-salt.sh failed): ${detail}\n` +
        'hint: needs python3 with venv and access to PyPI; run .ci/setup.d/20-cluster.sh once.',
    );
  }
}

/** A salt process exited before salt-api accepted a login. */
class SaltStartError extends Error {}

async function waitForLogin(url: string, username: string, token: string, procs: ChildProcess[], log: string) {
  const deadline = Date.now() + 90_000;
  let last = '';
  while (Date.now() < deadline) {
    for (const p of procs) {
      if (p.exitCode !== null) {
        const text = await readFile(log, 'utf8').catch(() => '');
        throw new SaltStartError(`salt process exited with code ${p.exitCode} while starting:\n${text.slice(-3000)}`);
      }
    }
    try {
      const res = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ eauth: 'kubernetes_rbac', username, token }),
      });
      if (res.status === 200) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`salt-api did not accept a login within 90 s (last: ${last}); see ${log}`);
}

function stopProcess(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.pid === undefined) {
      resolve();
      return;
    }
    const pid = p.pid;
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }, 10_000);
    p.once('exit', () => {
      clearTimeout(timer);
      // salt-master forks workers into the same process group: make sure none is left.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
      resolve();
    });
    try {
      process.kill(-pid, 'SIGTERM');
    } catch {
      resolve();
    }
  });
}

/** PIDs of processes started with `-c <conf>` (salt's workers outlive their parent briefly). */
async function saltProcesses(conf: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    // salt renames its workers (setproctitle), keeping the original command line inside.
    if (cmdline.includes(` ${conf}`) || cmdline.includes(`\0${conf}`)) pids.push(Number(entry));
  }
  return pids;
}

/** Waits for this harness's own salt processes to be gone, killing them by pid after 10 s. */
async function reapStragglers(conf: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  let pids = await saltProcesses(conf);
  while (pids.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 200));
    pids = await saltProcesses(conf);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

/** The accounts the conformance suite logs in with, made on the cluster as MetalK8s has them. */
export async function saltApiAccounts(kc: KubeConfig): Promise<{
  admin: { username: string; token: string };
  limited: { username: string; token: string };
  unprivileged: { username: string; token: string };
}> {
  const account = async (name: string) => ({
    username: `system:serviceaccount:kube-system:${name}`,
    token: await mintServiceAccountToken(kc, 'kube-system', name, { expirationSeconds: 7200 }),
  });
  const admin = await account('sdk-conformance-node-admin');
  // A node-admin as MetalK8s decides it: allowed `*` on nodes.
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  const ignoreConflict = (err: unknown) => {
    if ((err as { code?: number }).code !== 409) throw err;
  };
  await rbac
    .createClusterRole({ body: { metadata: { name: 'sdk-conformance-node-admin' }, rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['*'] }] } })
    .catch(ignoreConflict);
  await rbac
    .createClusterRoleBinding({
      body: {
        metadata: { name: 'sdk-conformance-node-admin' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'sdk-conformance-node-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'sdk-conformance-node-admin', namespace: 'kube-system' }],
      },
    })
    .catch(ignoreConflict);
  return { admin, limited: await account('storage-operator-controller-manager'), unprivileged: await account('sdk-conformance-unprivileged') };
}

/** Starts salt-master + salt-api against the cluster of `kubeconfig` (a path); call `stop()` when done. */
/** Attempts at starting salt-master and salt-api (see {@link startRealSaltApi}). */
const START_ATTEMPTS = 3;

/**
 * A real salt-master and salt-api on free ports of 127.0.0.1. `freePort()` hands out a port that
 * another process may bind before salt does (test files run in parallel): when a salt process
 * exits while starting, both are started again in a new root, on new ports, and the reason is
 * printed.
 */
export async function startRealSaltApi(options: { readonly kubeconfigPath: string }): Promise<RealSaltApi> {
  const venv = await saltVenv();
  const kc = new KubeConfig();
  kc.loadFromFile(options.kubeconfigPath);
  const accounts = await saltApiAccounts(kc);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSalt(options.kubeconfigPath, venv, accounts);
    } catch (err) {
      if (!(err instanceof SaltStartError) || attempt >= START_ATTEMPTS) throw err;
      console.warn(`salt did not start (attempt ${attempt} of ${START_ATTEMPTS}), starting it again on new ports: ${err.message.slice(-1500)}`);
    }
  }
}

async function startSalt(
  kubeconfigPath: string,
  venv: string,
  { admin, limited, unprivileged }: Awaited<ReturnType<typeof saltApiAccounts>>,
): Promise<RealSaltApi> {
  const root = await mkdtemp(path.join(tmpdir(), 'sdk-salt-'));
  const [publishPort, retPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const { username, token } = admin;
  const masterId = 'sdk-test-master';
  await mkdir(path.join(root, 'conf'), { recursive: true });
  // root_dir is prepended to extension_modules and the log files.
  await cp(path.join(fixtures, '_auth'), path.join(root, 'ext/auth'), { recursive: true });
  await cp(kubeconfigPath, path.join(root, 'conf/admin.kubeconfig'));
  // MetalK8s' ACL (metalk8s-reference.md §3.4): node-admins get everything, the
  // storage-operator only its volume functions (state.sls limited by its `mods` kwarg).
  const storageOperatorPerms = [
    { '*': ['metalk8s_volumes.device_info', 'metalk8s_volumes.device_name', { 'state.sls': { kwargs: { mods: 'metalk8s\\.volumes.*' } } }] },
    '@jobs',
  ];
  const config = {
    id: masterId,
    root_dir: root,
    user: process.env.USER && process.env.USER !== 'root' ? process.env.USER : 'root',
    interface: '127.0.0.1',
    publish_port: publishPort,
    ret_port: retPort,
    extension_modules: '/ext',
    file_roots: { base: [path.join(fixtures, 'file_roots')] },
    log_file: '/master.log',
    api_logfile: '/api.log',
    log_level_logfile: 'info',
    worker_threads: 2,
    netapi_enable_clients: ['local', 'local_async', 'runner', 'runner_async', 'wheel', 'wheel_async'],
    external_auth: {
      kubernetes_rbac: {
        '^kubeconfig': path.join(root, 'conf/admin.kubeconfig'),
        'node-admins%': [{ '*': ['.*'] }, '@wheel', '@runner', '@jobs'],
        [limited.username]: storageOperatorPerms,
      },
    },
    rest_cherrypy: { host: '127.0.0.1', port: apiPort, disable_ssl: true },
    // Minions of the tests (startMinion) join without a manual salt-key.
    auto_accept: true,
  };
  await writeFile(path.join(root, 'conf/master'), stringify(config));
  const conf = path.join(root, 'conf');
  const start = (bin: string) =>
    spawn(path.join(venv, 'bin', bin), ['-c', conf, '--log-level=quiet'], { detached: true, stdio: 'ignore' });
  const master = start('salt-master');
  const api = start('salt-api');
  const url = `http://127.0.0.1:${apiPort}`;
  const stop = async () => {
    await Promise.all([stopProcess(api), stopProcess(master)]);
    await reapStragglers(conf);
    // Salt's worker processes may still be flushing their cache as they die.
    await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  };
  try {
    await waitForLogin(url, username, token, [master, api], path.join(root, 'master.log'));
  } catch (err) {
    await stop();
    throw err;
  }
  const tokensDir = path.join(root, 'var/cache/salt/master/tokens');
  return {
    url,
    username,
    token,
    masterId,
    limited,
    unprivileged,
    async revokeTokens() {
      if (!existsSync(tokensDir)) return;
      for (const f of await readdir(tokensDir)) await rm(path.join(tokensDir, f), { force: true });
    },
    startMinion: (id) => startMinion({ venv, id, publishPort, retPort, fileRoots: config.file_roots.base, url, username, token }),
    stop,
  };
}

/** A real salt-minion in its own temporary root, joined to the harness master. */
async function startMinion(o: {
  venv: string;
  id: string;
  publishPort: number;
  retPort: number;
  fileRoots: readonly string[];
  url: string;
  username: string;
  token: string;
}): Promise<{ stop(): Promise<void> }> {
  const root = await mkdtemp(path.join(tmpdir(), 'sdk-salt-minion-'));
  const conf = path.join(root, 'conf');
  await mkdir(conf, { recursive: true });
  const config = {
    id: o.id,
    root_dir: root,
    user: 'root',
    master: '127.0.0.1',
    master_port: o.retPort,
    publish_port: o.publishPort,
    file_client: 'local',
    file_roots: { base: [...o.fileRoots] },
    log_file: '/minion.log',
    log_level_logfile: 'info',
    // No grains from the cloud, no mine: quick start.
    grains_cache: false,
    mine_interval: 0,
  };
  await writeFile(path.join(conf, 'minion'), stringify(config));
  const minion = spawn(path.join(o.venv, 'bin', 'salt-minion'), ['-c', conf, '--log-level=quiet'], { detached: true, stdio: 'ignore' });
  const stop = async () => {
    await stopProcess(minion);
    await reapStragglers(conf);
    await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  };
  const deadline = Date.now() + 120_000;
  try {
    const login = await fetch(`${o.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ eauth: 'kubernetes_rbac', username: o.username, token: o.token }),
    });
    const session = ((await login.json()) as { return: { token: string }[] }).return[0]?.token ?? '';
    for (;;) {
      if (minion.exitCode !== null) throw new Error(`salt-minion exited with code ${minion.exitCode}: ${(await readFile(path.join(root, 'minion.log'), 'utf8').catch(() => '')).slice(-2000)}`);
      const res = await fetch(o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-auth-token': session },
        body: JSON.stringify([{ client: 'local', tgt: o.id, fun: 'test.ping', timeout: 5 }]),
      });
      const ret = ((await res.json().catch(() => ({}))) as { return?: Record<string, unknown>[] }).return?.[0];
      if (ret?.[o.id] === true) return { stop };
      if (Date.now() > deadline) throw new Error(`salt-minion ${o.id} did not answer test.ping within 120 s; see ${root}/minion.log`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (err) {
    await stop();
    throw err;
  }
}

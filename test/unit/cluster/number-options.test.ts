/**
 * Numeric options of the cluster and storage calls are checked where they enter, before any
 * request: NaN, out-of-range and fractional values where a whole number is needed are refused
 * with `OPTION_INVALID` naming the option. The calls talk to a local TCP listener that only
 * counts connections (and closes them), and to a SaltAPI `fetch` that only counts calls: a
 * refused option must leave both at zero. A few calls with the documented edge values (a drain
 * with gracePeriodSeconds -1 and timeoutMs 0) show that those still go through to the network.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Discovery } from '../../../src/_kube.js';
import { pollUntil } from '../../../src/_wait.js';
import type { LifecycleContext } from '../../../src/cluster/_lifecycle.js';
import { collectSnapshot } from '../../../src/cluster/diagnostics-snapshot.js';
import { EnvironmentsApi } from '../../../src/cluster/environments.js';
import { connect, connectPlatform, NodesApi, SaltApiClient, SolutionsApi, supportBundle } from '../../../src/cluster/index.js';
import type { FetchLike } from '../../../src/cluster/salt-api.js';
import { SdkError } from '../../../src/errors.js';
import { applyVolumePlan, deleteVolume, describeDevices, planVolumes, type VolumePlan } from '../../../src/storage/index.js';

let server: Server;
let port = 0;
/** TCP connections the listener saw (each closed at once: a call that gets there fails). */
let connections = 0;
/** Calls the SaltAPI transport saw. */
let saltCalls = 0;

beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});
beforeEach(() => {
  connections = 0;
  saltCalls = 0;
});

const kubeconfigYaml = (): string =>
  [
    'apiVersion: v1',
    'kind: Config',
    // Plain http to the listener: the client refuses it unless told to skip TLS checks.
    'clusters: [{ name: c, cluster: { server: "http://127.0.0.1:' + port + '", insecure-skip-tls-verify: true } }]',
    'users: [{ name: u, user: { token: t } }]',
    'contexts: [{ name: x, context: { cluster: c, user: u } }]',
    'current-context: x',
  ].join('\n');

function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml());
  return kc;
}

const countingFetch: FetchLike = async () => {
  saltCalls++;
  throw new Error('no SaltAPI in a unit test');
};

function salt(): SaltApiClient {
  return new SaltApiClient({ url: `http://127.0.0.1:${port}`, username: 'u', token: 't', fetch: countingFetch });
}

function context(): LifecycleContext {
  const kc = kubeConfig();
  return { kubeConfig: kc, discovery: new Discovery(kc), salt: salt(), saltenv: 'metalk8s-129.0.0', bootstrapId: 'bootstrap', ssh: undefined };
}

/** The error `run` throws or rejects with. */
async function thrown(run: () => unknown): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal, the call went through');
}

/** Asserts an `OPTION_INVALID` naming `name`, and that nothing reached the network. */
async function refused(run: () => unknown, name: string): Promise<void> {
  const err = await thrown(run);
  expect(err).toBeInstanceOf(SdkError);
  expect((err as SdkError).code).toBe('OPTION_INVALID');
  expect((err as Error).message.startsWith(`${name} is `)).toBe(true);
  expect({ connections, saltCalls }).toEqual({ connections: 0, saltCalls: 0 });
}

describe('pollUntil', () => {
  it('refuses a NaN or negative timeout at once instead of polling forever', { timeout: 2000 }, async () => {
    let probes = 0;
    const probe = async () => {
      probes++;
      return undefined;
    };
    await refused(() => pollUntil(probe, { what: 'x', timeoutMs: Number.NaN, intervalMs: 1 }), 'timeoutMs');
    await refused(() => pollUntil(probe, { what: 'x', timeoutMs: -1, intervalMs: 1 }), 'timeoutMs');
    await refused(() => pollUntil(probe, { what: 'x', timeoutMs: Number.POSITIVE_INFINITY, intervalMs: 1 }), 'timeoutMs');
    expect(probes).toBe(0);
    // 0 still means: one probe, then give up.
    expect(await pollUntil(probe, { what: 'x', timeoutMs: 0, intervalMs: 1 })).toBeUndefined();
    expect(probes).toBeGreaterThan(0);
  });
});

describe('nodes', () => {
  it('drain refuses NaN, fractional and out-of-range settings before the cordon', async () => {
    const nodes = new NodesApi(context());
    await refused(() => nodes.drain('n', { timeoutMs: Number.NaN }), 'timeoutMs');
    await refused(() => nodes.drain('n', { gracePeriodSeconds: Number.NaN }), 'gracePeriodSeconds');
    await refused(() => nodes.drain('n', { gracePeriodSeconds: -2 }), 'gracePeriodSeconds');
    await refused(() => nodes.drain('n', { gracePeriodSeconds: 0.5 }), 'gracePeriodSeconds');
    await refused(() => nodes.drain('n', { concurrency: 1.5 }), 'concurrency');
    await refused(() => nodes.drain('n', { skipWaitForDeleteTimeoutSeconds: -1 }), 'skipWaitForDeleteTimeoutSeconds');
    await refused(() => nodes.drain('n', { evictionRetryDelayMs: 3e9 }), 'evictionRetryDelayMs');
    await refused(() => nodes.drain('n', { timeoutMs: 1, dryRun: true, concurrency: -1 }), 'concurrency');
  });

  it('drain still takes the documented edge values (-1: the Pod’s own grace, 0: no limit, all at once)', async () => {
    const nodes = new NodesApi(context());
    const err = await thrown(() => nodes.drain('n', { gracePeriodSeconds: -1, timeoutMs: 0, concurrency: 0, skipWaitForDeleteTimeoutSeconds: 0, evictionRetryDelayMs: 0 }));
    expect((err as SdkError).code).toBe('KUBE_API_UNREACHABLE');
    expect(connections).toBeGreaterThan(0);
  });

  it('the counters see the calls that get through (so a zero means no request)', async () => {
    const platform = await connectPlatform({ kubeconfigYaml: kubeconfigYaml(), services: { via: 'proxy' } });
    await thrown(() => platform.logs.containers('env', 'sol', { tail: 0 }).next());
    expect(connections).toBeGreaterThan(0);
    connections = 0;
    await thrown(() => applyVolumePlan({ kubeConfig: kubeConfig(), salt: salt() }, { ok: true, solution: 's', volumes: [], unsatisfied: [], refusedDevices: [], notes: [] }, { timeoutMs: 0, pollIntervalMs: 0 }));
    expect(connections).toBeGreaterThan(0);
    await thrown(() => salt().waitForJob('1', { timeoutMs: 0, pollIntervalMs: 0 }));
    expect(saltCalls).toBeGreaterThan(0);
  });

  it('remove names the drain options it refuses, and refuses a NaN volumes timeout', async () => {
    const nodes = new NodesApi(context());
    await refused(() => nodes.remove('n', { drain: { timeoutMs: Number.NaN } }), 'drain.timeoutMs');
    await refused(() => nodes.remove('n', { volumesTimeoutMs: Number.NaN }), 'volumesTimeoutMs');
  });

  it('deploy refuses its timeouts and interval before the deploy is claimed', async () => {
    const nodes = new NodesApi(context());
    await refused(() => nodes.deploy('n', { timeoutMs: Number.NaN }), 'timeoutMs');
    await refused(() => nodes.deploy('n', { readyTimeoutMs: -1 }), 'readyTimeoutMs');
    await refused(() => nodes.deploy('n', { drainTimeoutSeconds: Number.NaN }), 'drainTimeoutSeconds');
    await refused(() => nodes.deploy('n', { pollIntervalMs: 3e9 }), 'pollIntervalMs');
  });

  it('preflight refuses an SSH port and clock limits out of range', async () => {
    const nodes = new NodesApi(context());
    await refused(() => nodes.preflight('n', { ssh: { port: 0 } }), 'ssh.port');
    await refused(() => nodes.preflight('n', { ssh: { port: 70_000 } }), 'ssh.port');
    await refused(() => nodes.preflight('n', { clockFailMs: Number.NaN }), 'clockFailMs');
    await refused(() => nodes.preflight('n', { clockWarnMs: -1 }), 'clockWarnMs');
  });
});

describe('logs', () => {
  it('containers refuses a negative, fractional or NaN tail before listing the pods', async () => {
    const platform = await connectPlatform({ kubeconfigYaml: kubeconfigYaml(), services: { via: 'proxy' } });
    await refused(() => platform.logs.containers('env', 'sol', { tail: -1 }).next(), 'tail');
    await refused(() => platform.logs.containers('env', 'sol', { tail: 1.5 }).next(), 'tail');
    await refused(() => platform.logs.containers('env', 'sol', { tail: Number.NaN }).next(), 'tail');
  });

  it('Loki queries refuse a page size or entry limit below 1', async () => {
    const platform = await connectPlatform({ kubeconfigYaml: kubeconfigYaml(), services: { via: 'proxy' } });
    await refused(() => platform.logs.loki.queryRange({ labels: { namespace: 'ns' }, pageSize: 0 }).next(), 'pageSize');
    await refused(() => platform.logs.loki.queryRange({ labels: { namespace: 'ns' }, maxEntries: Number.NaN }).next(), 'maxEntries');
    await refused(() => platform.logs.fromLoki('env', 'sol', { maxEntries: 0 }).next(), 'maxEntries');
  });
});

describe('diagnostics', () => {
  it('supportBundle refuses a NaN or negative maxBytes before collecting, and writes nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'number-options-'));
    try {
      const output = join(dir, 'bundle.tar.gz');
      const target = { kubeConfig: kubeConfig(), salt: salt() };
      await refused(() => supportBundle(target, { output, maxBytes: Number.NaN }), 'maxBytes');
      await refused(() => supportBundle(target, { output, maxBytes: -1 }), 'maxBytes');
      await refused(() => supportBundle(target, { output, logLimitBytes: 0 }), 'logLimitBytes');
      expect(existsSync(output)).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('collectSnapshot refuses its log and Salt job limits out of range', async () => {
    const target = { kubeConfig: kubeConfig(), salt: salt() };
    await refused(() => collectSnapshot(target, { logTailLines: -1 }), 'logTailLines');
    await refused(() => collectSnapshot(target, { maxLogBytes: Number.NaN }), 'maxLogBytes');
    await refused(() => collectSnapshot(target, { maxSaltJobs: 2.5 }), 'maxSaltJobs');
  });
});

describe('storage', () => {
  const plan: VolumePlan = { ok: true, solution: 's', volumes: [], unsatisfied: [], refusedDevices: [], notes: [] };
  const storage = () => ({ kubeConfig: kubeConfig(), salt: salt() });

  it('applyVolumePlan refuses its timeouts and interval before reading or creating a Volume', async () => {
    await refused(() => applyVolumePlan(storage(), plan, { timeoutMs: Number.NaN }), 'timeoutMs');
    await refused(() => applyVolumePlan(storage(), plan, { noStatusTimeoutMs: -1 }), 'noStatusTimeoutMs');
    await refused(() => applyVolumePlan(storage(), plan, { pollIntervalMs: Number.NaN }), 'pollIntervalMs');
  });

  it('deleteVolume refuses a NaN timeout before asking for the deletion', async () => {
    await refused(() => deleteVolume(storage(), 'v', { timeoutMs: Number.NaN }), 'timeoutMs');
  });

  it('describeDevices refuses a NaN or negative size and wear threshold', async () => {
    await refused(() => describeDevices({ lsblk: [] }, { minSizeBytes: Number.NaN }), 'minSizeBytes');
    await refused(() => describeDevices({ lsblk: [] }, { wornPercent: -1 }), 'wornPercent');
    expect(describeDevices({ lsblk: [] }, { minSizeBytes: 0, wornPercent: 0 })).toEqual([]);
  });

  it('planVolumes refuses a negative or NaN LVM spare, and a NaN size of an existing Volume', async () => {
    const solution = { name: 's', definition: { components: [], storageClasses: [] } };
    await refused(() => planVolumes({ solution, inventory: { nodes: [] }, options: { lvmSpareBytes: -1 } }), 'options.lvmSpareBytes');
    await refused(() => planVolumes({ solution, inventory: { nodes: [] }, options: { lvmSpareBytes: Number.NaN } }), 'options.lvmSpareBytes');
    const existing = [{ name: 'v', node: 'n', storageClass: 'sc', labels: {}, sizeBytes: Number.NaN }];
    await refused(() => planVolumes({ solution, inventory: { nodes: [] }, existing }), 'existing[0].sizeBytes');
    expect(planVolumes({ solution, inventory: { nodes: [] }, options: { lvmSpareBytes: 0 } }).ok).toBe(true);
  });
});

describe('connections and the SaltAPI', () => {
  it('connect refuses an SSH port or a services timeout out of range before any request', async () => {
    const ssh = { host: 'h', user: 'root', privateKey: 'k' };
    await refused(() => connect({ kubeconfigYaml: kubeconfigYaml(), ssh: { ...ssh, port: Number.NaN } }), 'ssh.port');
    await refused(() => connect({ kubeconfigYaml: kubeconfigYaml(), ssh: { ...ssh, port: 70_000 } }), 'ssh.port');
    await refused(() => connect({ kubeconfigYaml: kubeconfigYaml(), services: { timeoutMs: -1 } }), 'services.timeoutMs');
    await refused(() => connectPlatform({ kubeconfigYaml: kubeconfigYaml(), services: { timeoutMs: Number.NaN } }), 'services.timeoutMs');
  });

  it('SaltApiClient refuses a request timeout AbortSignal.timeout cannot take', async () => {
    const options = { url: 'http://127.0.0.1:1', username: 'u', token: 't', fetch: countingFetch };
    await refused(() => new SaltApiClient({ ...options, requestTimeoutMs: 0 }), 'requestTimeoutMs');
    await refused(() => new SaltApiClient({ ...options, requestTimeoutMs: 1.5 }), 'requestTimeoutMs');
    await refused(() => new SaltApiClient({ ...options, requestTimeoutMs: Number.NaN }), 'requestTimeoutMs');
  });

  it('waitForJob, orchestrate and local refuse their numbers before the first call', async () => {
    const s = salt();
    await refused(() => s.waitForJob('1', { timeoutMs: Number.NaN }), 'timeoutMs');
    await refused(() => s.waitForJob('1', { pollIntervalMs: -1 }), 'pollIntervalMs');
    await refused(() => s.orchestrate('some.sls', { timeoutMs: -1 }), 'timeoutMs');
    await refused(() => s.local({ tgt: '*', fun: 'test.ping', timeout: Number.NaN }), 'timeout');
    await refused(() => s.localAsync({ tgt: '*', fun: 'test.ping', timeout: -5 }), 'timeout');
  });

  it('solution import and environment add refuse a NaN timeout before any step', async () => {
    const ctx = context();
    await refused(() => new SolutionsApi(ctx).import(join(tmpdir(), 'no-such.iso'), { timeoutMs: Number.NaN }), 'timeoutMs');
    const environments = new EnvironmentsApi(ctx);
    await refused(() => environments.addSolution('env', { name: 'sol', version: '1.0.0', timeoutMs: Number.NaN }), 'timeoutMs');
    await refused(() => environments.upgradeSolution('env', { name: 'sol', version: '1.0.0', timeoutMs: -1 }), 'timeoutMs');
  });
});

import { readFile } from 'node:fs/promises';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SaltApiClient } from '../../../src/cluster/index.js';
import { ClusterError } from '../../../src/errors.js';
import { type MetalK8sEmulator, startMetalK8s, uniqueSuffix } from '../../../src/testing/index.js';

// An orchestrate played in code, the way MetalK8s' own orchestrates are emulated: it applies
// objects to the real API server and reports Salt-shaped steps.
describe('orchestrates played by the emulator', () => {
  const ns = `orch-${uniqueSuffix()}`;
  let mk8s: MetalK8sEmulator;
  let salt: SaltApiClient;
  const kc = new KubeConfig();

  beforeAll(async () => {
    kc.loadFromFile(inject('kubeconfigPath'));
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: ns } } });
    mk8s = await startMetalK8s({
      storageOperator: false,
      kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'),
      orchestrates: {
        'sdk.write-config': async ({ pillar, kubeConfig, step }) => {
          const orchestrate = pillar.orchestrate as { namespace: string; value: string };
          const written = await step('Write config', 'metalk8s_kubernetes.object_present', async () => {
            await kubeConfig.makeApiClient(CoreV1Api).createNamespacedConfigMap({
              namespace: orchestrate.namespace,
              body: { metadata: { name: 'written-by-salt' }, data: { value: orchestrate.value } },
            });
            return { result: true, comment: 'Object created', changes: { new: 'written-by-salt' } };
          });
          await step('Check value', 'test.fail_without_changes', async () => {
            if (orchestrate.value === 'bad') throw new Error('value "bad" is refused');
            return { result: true, comment: 'Success!' };
          }, { require: written ? [] : ['Write config'] });
          await step('Report', 'test.succeed_without_changes', async () => ({ result: true, comment: 'Success!' }), {
            require: ['Check value'],
          });
        },
      },
    });
    salt = new SaltApiClient(mk8s.saltApi);
  });

  afterAll(async () => {
    await mk8s?.stop();
    await kc.makeApiClient(CoreV1Api).deleteNamespace({ name: ns });
  });

  it('applies objects to the cluster and reports every step', async () => {
    const result = await salt.orchestrate('sdk.write-config', {
      saltenv: 'metalk8s-129.0.0',
      pillar: { orchestrate: { namespace: ns, value: 'good' } },
      pollIntervalMs: 100,
    });
    expect(result.success).toBe(true);
    expect(result.runs[0]?.steps.map((s) => `${s.module}.${s.function} ${s.id}`)).toEqual([
      'metalk8s_kubernetes.object_present Write config',
      'test.fail_without_changes Check value',
      'test.succeed_without_changes Report',
    ]);
    const cm = await kc.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name: 'written-by-salt', namespace: ns });
    expect(cm.data?.value).toBe('good');
  });

  it('answers minion calls as the bootstrap minion', async () => {
    expect(await salt.local({ tgt: '*', fun: 'test.ping' })).toEqual({ bootstrap: true });
    expect(await salt.local({ tgt: 'bootstrap', tgtType: 'list', fun: 'no_such.function' })).toEqual({
      bootstrap: "'no_such.function' is not available.",
    });
    // The call MetalK8s' UI makes for node IPs.
    const grains = await salt.local({
      tgt: 'bootstrap',
      tgtType: 'list',
      fun: 'grains.item',
      arg: ['metalk8s:control_plane_ip', 'metalk8s:workload_plane_ip', 'ip_interfaces'],
    });
    expect(grains.bootstrap).toEqual({
      'metalk8s:control_plane_ip': '127.0.0.1',
      'metalk8s:workload_plane_ip': '127.0.0.1',
      ip_interfaces: { lo: ['127.0.0.1'] },
    });
    const job = await salt.localAsync({ tgt: 'boot*', fun: 'grains.item', arg: ['id'] });
    expect(job.minions).toEqual(['bootstrap']);
    const status = await salt.waitForJob(job.jid, { via: 'jobs', pollIntervalMs: 100 });
    expect(status.function).toBe('grains.item');
    expect(status.result.bootstrap).toMatchObject({ return: { id: 'bootstrap' }, retcode: 0 });
  });

  it('turns a thrown error into the failed step, and later steps into requisite failures', async () => {
    await kc.makeApiClient(CoreV1Api).deleteNamespacedConfigMap({ name: 'written-by-salt', namespace: ns });
    const err = await salt
      .orchestrate('sdk.write-config', { pillar: { orchestrate: { namespace: ns, value: 'bad' } }, pollIntervalMs: 100 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClusterError);
    expect((err as Error).message).toContain('Check value: value "bad" is refused');
  });
});

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { mintServiceAccountToken, startMetalK8s } from '../../../src/testing/index.js';
import { describeSaltApiConformance } from '../salt/_conformance.js';

const fileRoots = [
  path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/cluster/salt/file_roots'),
];

// The emulator's SaltAPI, its kubernetes_rbac login checked by a real TokenReview against the
// shared control plane; the same suite runs against the real salt-api in test/integration/salt.
describeSaltApiConformance('MetalK8s emulator', async () => {
  const mk8s = await startMetalK8s({ kubeconfigYaml: await readFile(inject('kubeconfigPath'), 'utf8'), fileRoots, storageOperator: false });
  const kc = new KubeConfig();
  kc.loadFromString(mk8s.kubeconfigYaml);
  const sa = { namespace: 'kube-system', name: 'storage-operator-controller-manager' };
  const limited = {
    username: `system:serviceaccount:${sa.namespace}:${sa.name}`,
    token: await mintServiceAccountToken(kc, sa.namespace, sa.name),
  };
  const unprivileged = {
    username: 'system:serviceaccount:kube-system:sdk-conformance-unprivileged',
    token: await mintServiceAccountToken(kc, 'kube-system', 'sdk-conformance-unprivileged'),
  };
  return { ...mk8s.saltApi, limited, unprivileged, stop: () => mk8s.stop() };
});

/**
 * The API server's service-proxy route to the platform services, against the shared real
 * kube-apiserver: the path MetalK8s' Services are reached by, the typed errors when a Service is
 * missing or has no endpoint, and RBAC enforced by the API server. The API server refuses to
 * proxy to loopback addresses, and test servers listen on 127.0.0.1 only, so the end-to-end
 * answers are tested through the ingress route (monitoring.test.ts).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeRequest } from '../../../src/_kube.js';
import { ServiceClient } from '../../../src/cluster/_service-http.js';
import { AlertsApi, MetricsApi } from '../../../src/cluster/index.js';
import { ClusterError } from '../../../src/errors.js';
import { mintServiceAccountToken, uniqueSuffix } from '../../../src/testing/index.js';

describe('platform services through the API server service proxy', () => {
  const kc = new KubeConfig();
  const ns = 'metalk8s-monitoring';

  beforeAll(() => {
    kc.loadFromFile(inject('kubeconfigPath'));
  });
  afterAll(async () => {
    await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${ns}/services/prometheus-operator-alertmanager`);
  });

  it('builds the proxy path of MetalK8s\' Service and sends the kubeconfig credentials', async () => {
    const metrics = new MetricsApi(new ServiceClient('prometheus', kc, { via: 'proxy' }), kc);
    const ep = await metrics.endpoint();
    expect(ep).toEqual({ via: 'proxy', url: `${kc.getCurrentCluster()?.server}/api/v1/namespaces/metalk8s-monitoring/services/http:thanos-query-http:10902/proxy` });
    const err = await metrics.query('up').catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/services "thanos-query-http" not found/);
    expect(err).toBeInstanceOf(ClusterError);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 404, retryable: true });
  });

  it('a Service with no endpoint is a retryable SERVICE_UNAVAILABLE', async () => {
    const res = await kubeRequest(kc, 'POST', `/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'prometheus-operator-alertmanager' },
      spec: { ports: [{ name: 'http-web', port: 9093 }], selector: { app: `nothing-${uniqueSuffix()}` } },
    });
    expect([201, 409]).toContain(res.status);
    const alerts = new AlertsApi(new ServiceClient('alertmanager', kc, { via: 'proxy' }), kc);
    const err = await alerts.list().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, retryable: true });
  });

  it('the API server enforces RBAC on services/proxy', async () => {
    const user = new KubeConfig();
    const token = await mintServiceAccountToken(kc, 'default', `no-rights-${uniqueSuffix()}`);
    user.loadFromOptions({
      clusters: [{ name: 'c', server: kc.getCurrentCluster()?.server ?? '', caData: kc.getCurrentCluster()?.caData }],
      users: [{ name: 'u', token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const metrics = new MetricsApi(new ServiceClient('prometheus', user, { via: 'proxy' }), user);
    const err = await metrics.query('up').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'PROMETHEUS_REQUEST_FAILED', status: 403, retryable: false });
    expect((err as ClusterError).hint).toMatch(/services\/proxy/);
  });
});

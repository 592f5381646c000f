/**
 * The whole Solution lifecycle of examples/zenko-like against the MetalK8s emulator on its own
 * control plane (CRDs are cluster-wide and get deleted here, so it does not share the project's
 * control plane): import, activate, environment, add, upgrade, remove, deactivate, archive
 * removal, each step run twice, plus bad input that must leave the cluster as it was.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, connect, type LifecycleProgressEvent } from '../../../src/cluster/index.js';
import { kubeGet, kubeRequest } from '../../../src/_kube.js';
import { ClusterError, IsoError } from '../../../src/errors.js';
import { defineSolution, renderEnvironment, type Solution, validateSolution } from '../../../src/index.js';
import { loadSolutionFile, pack } from '../../../src/packaging/index.js';
import { type MetalK8sEmulator, mintServiceAccountToken, startMetalK8s } from '../../../src/testing/index.js';

const pexec = promisify(execFile);

type Obj = { metadata: { name: string; labels?: Record<string, string> }; data?: Record<string, string> | null; spec?: Record<string, unknown> };

describe('solution lifecycle against the MetalK8s emulator', () => {
  let mk8s: MetalK8sEmulator;
  let cluster: Cluster;
  let dir: string;
  let v1: Solution;
  let v2: Solution;
  let iso1: string;
  let iso2: string;
  const env = 'zenko-prod';

  const get = <T = Obj>(path: string) => kubeGet<T>(cluster.kubeConfig, path);
  const solutionsCm = async () => (await get('/api/v1/namespaces/metalk8s-solutions/configmaps/metalk8s-solutions'))?.data ?? {};
  const solutionsYaml = async () => parseYaml(await readFile(join(mk8s.stateDir, 'etc/metalk8s/solutions.yaml'), 'utf8')) as { apiVersion: string; kind: string; archives: string[]; active: Record<string, string> };
  /** What the cluster looks like, to check that a failure changed nothing. */
  const snapshot = async () => ({
    cm: await solutionsCm(),
    config: await readFile(join(mk8s.stateDir, 'etc/metalk8s/solutions.yaml'), 'utf8').catch(() => ''),
    envs: await cluster.environments.list(),
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sdk-lifecycle-'));
    const { solution } = await loadSolutionFile('examples/zenko-like');
    v1 = solution;
    const def = solution.definition;
    v2 = defineSolution({
      ...def,
      version: '2.7.0',
      // Sizes were built by the example's copy of the SDK: pass them as quantities.
      components: JSON.parse(JSON.stringify(def.components ?? [])),
      images: def.images.map((i) => (i.name === def.operator.image ? { ...i, tag: '2.7.0' } : i)),
    } as Parameters<typeof defineSolution>[0]);
    const [p1, p2] = await Promise.all([
      pack({ solution: v1, baseDir: 'examples/zenko-like', outDir: join(dir, 'v1') }),
      pack({ solution: v2, baseDir: 'examples/zenko-like', outDir: join(dir, 'v2') }),
    ]);
    iso1 = p1.path;
    iso2 = p2.path;
    mk8s = await startMetalK8s({ storageOperator: false });
    cluster = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
    });
  }, 600_000);

  afterAll(async () => {
    await mk8s?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('connect without SaltAPI credentials logs in with the kubeconfig user\'s token and name', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(mk8s.kubeconfigYaml);
    const cl = kc.getCurrentCluster();
    if (!cl) throw new Error('no cluster in the emulator kubeconfig');
    const sa = new KubeConfig();
    sa.loadFromOptions({
      clusters: [cl],
      users: [{ name: 'sa', token: mk8s.saltApi.token }],
      contexts: [{ name: 'sa', cluster: cl.name, user: 'sa' }],
      currentContext: 'sa',
    });
    const c = await connect({ kubeconfigYaml: sa.exportConfig(), saltApi: { url: mk8s.saltApi.url, ca: mk8s.saltApi.ca } });
    expect(c.saltenv).toBe('metalk8s-129.0.0');
    expect(c.bootstrapId).toBe('bootstrap');
    expect((await c.salt.login()).user).toBe(mk8s.saltApi.username);
  });

  it('connect as a user who is not a node-admin: SaltAPI lets it log in without rights, connect says so', async () => {
    const kc = new KubeConfig();
    kc.loadFromString(mk8s.kubeconfigYaml);
    const token = await mintServiceAccountToken(kc, 'default', 'sdk-not-a-node-admin');
    const err = await connect({
      kubeconfigYaml: mk8s.kubeconfigYaml,
      saltApi: { url: mk8s.saltApi.url, ca: mk8s.saltApi.ca, username: 'system:serviceaccount:default:sdk-not-a-node-admin', token },
    }).catch((e: unknown) => e);
    expect((err as ClusterError).code).toBe('SALT_NOT_NODE_ADMIN');
    expect((err as ClusterError).hint).toMatch(/verbs: \["\*"\]/);
  });

  describe('bad input leaves the cluster as it was', () => {
    it('a file that is no ISO', async () => {
      const before = await snapshot();
      const path = join(dir, 'not-an-iso.iso');
      await writeFile(path, Buffer.alloc(64 * 1024, 7));
      const err = await cluster.solutions.import(path).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IsoError);
      expect((err as IsoError).code).toBe('ISO_NOT_ISO9660');
      expect((err as IsoError).message).toContain(path);
      expect(await snapshot()).toEqual(before);
    });

    it('an ISO without a manifest, one named metalk8s-*, one with the wrong apiVersion', async () => {
      const before = await snapshot();
      const tree = join(dir, 'tree');
      await mkdir(join(tree, 'images'), { recursive: true });
      await writeFile(join(tree, 'README'), 'no manifest\n');
      const noManifest = join(dir, 'no-manifest.iso');
      await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', noManifest, tree]);
      const e1 = await cluster.solutions.import(noManifest).catch((e: unknown) => e);
      expect((e1 as IsoError).code).toBe('ISO_NO_MANIFEST');
      expect((e1 as IsoError).message).toMatch(/must contain a 'manifest.yaml' file/);

      await writeFile(join(tree, 'manifest.yaml'), 'apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: metalk8s-evil\nspec:\n  version: 1.0.0\n');
      const reserved = join(dir, 'reserved.iso');
      await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', reserved, tree]);
      const e2 = await cluster.solutions.import(reserved).catch((e: unknown) => e);
      expect((e2 as IsoError).code).toBe('SOLUTION_NAME_RESERVED');
      expect((e2 as IsoError).hint).toMatch(/metalk8s-/);

      await writeFile(join(tree, 'manifest.yaml'), 'apiVersion: metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: wrongapi\nspec:\n  version: 1.0.0\n');
      const wrongApi = join(dir, 'wrong-api.iso');
      await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', wrongApi, tree]);
      const e3 = await cluster.solutions.import(wrongApi).catch((e: unknown) => e);
      expect((e3 as IsoError).code).toBe('ISO_MANIFEST_INVALID');
      expect((e3 as IsoError).message).toContain('not a Solution');
      expect(await snapshot()).toEqual(before);
    });

    it('an ISO MetalK8s refuses in a Salt step: the error names the step with Salt\'s comment, and the archive is unregistered', async () => {
      const before = await snapshot();
      const tree = join(dir, 'no-images');
      await mkdir(tree, { recursive: true });
      await writeFile(join(tree, 'manifest.yaml'), 'apiVersion: solutions.metalk8s.scality.com/v1alpha1\nkind: Solution\nmetadata:\n  name: noimages\nspec:\n  version: 1.0.0\n');
      const path = join(dir, 'no-images.iso');
      await pexec('xorriso', ['-as', 'mkisofs', '-quiet', '-rock', '-joliet', '-iso-level', '3', '-o', path, tree]);
      const events: LifecycleProgressEvent[] = [];
      const err = await cluster.solutions.import(path, { onProgress: (e) => events.push(e) }).catch((e: unknown) => e);
      expect((err as ClusterError).code).toBe('SALT_ORCHESTRATE_FAILED');
      expect((err as ClusterError).message).toContain('Check Solution noimages-1.0.0 content');
      expect((err as ClusterError).message).toContain('/srv/scality/noimages-1.0.0/images does not exist');
      expect(events).toContainEqual({ type: 'step', step: 'rollback', status: 'done' });
      expect(await snapshot()).toEqual(before.config === '' ? { ...before, config: expect.any(String) } : before);
      expect((await solutionsYaml()).archives).toEqual([]);
    });

    it('activate refuses an ISO whose platform/ holds a ClusterRoleBinding, or replaces an object it does not own, before any write', async () => {
      const acme = defineSolution({
        name: 'acme',
        version: '1.0.0',
        operator: { image: 'acme-operator' },
        images: [{ name: 'acme-operator', tag: '1.0.0', source: { kind: 'build', layers: [{ files: [{ path: '/usr/bin/acme-operator', content: 'x', mode: 0o755 }] }] } }],
        storageClasses: [{ name: 'acme-data', fsType: 'xfs' }],
      });
      const packed = await pack({ solution: acme, outDir: join(dir, 'acme'), cacheDir: join(dir, 'acme-cache') });
      const tree = join(dir, 'acme-tree');
      await pexec(process.execPath, ['dist/cli.js', 'iso', 'extract', packed.path, tree]);
      await mkdir(join(tree, 'platform/rbac'), { recursive: true });
      await writeFile(
        join(tree, 'platform/rbac/admin.yaml'),
        'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata:\n  name: acme-admin\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}\nsubjects: [{kind: Group, name: system:authenticated, apiGroup: rbac.authorization.k8s.io}]\n',
      );
      const evil = join(dir, 'acme-evil.iso');
      await pexec(process.execPath, ['dist/cli.js', 'iso', 'create', tree, '-o', evil, '-q']);
      await cluster.solutions.import(evil);
      const before = await snapshot();
      const err = await cluster.solutions.activate('acme', { version: '1.0.0' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ClusterError);
      expect((err as ClusterError).code).toBe('PLATFORM_OBJECT_FORBIDDEN');
      expect((err as ClusterError).message).toMatch(/platform\/rbac\/admin\.yaml: ClusterRoleBinding acme-admin: kind "ClusterRoleBinding" is not allowed/);
      expect(await get('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/acme-admin')).toBeUndefined();
      expect(await get('/apis/storage.k8s.io/v1/storageclasses/acme-data')).toBeUndefined();
      expect(await snapshot()).toEqual(before);
      expect((await solutionsYaml()).active).toEqual({});
      await cluster.solutions.remove(evil);

      // The genuine ISO, while someone else's StorageClass acme-data exists: refused, not replaced.
      await kubeRequest(cluster.kubeConfig, 'POST', '/apis/storage.k8s.io/v1/storageclasses', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name: 'acme-data', labels: { team: 'storage' } },
        provisioner: 'example.com/other',
      });
      await cluster.solutions.import(packed.path);
      const err2 = await cluster.solutions.activate('acme', { version: '1.0.0' }).catch((e: unknown) => e);
      expect((err2 as ClusterError).code).toBe('PLATFORM_OBJECT_NOT_OWNED');
      expect((err2 as ClusterError).message).toContain('StorageClass/acme-data');
      expect((await get('/apis/storage.k8s.io/v1/storageclasses/acme-data'))?.metadata.labels).toEqual({ team: 'storage' });
      expect((await solutionsYaml()).active).toEqual({});
      await cluster.solutions.remove(packed.path);
      await kubeRequest(cluster.kubeConfig, 'DELETE', '/apis/storage.k8s.io/v1/storageclasses/acme-data');
    });

    it('activating a version that is not imported, adding to a missing environment', async () => {
      const before = await snapshot();
      const e1 = await cluster.solutions.activate('zenko', { version: '9.9.9' }).catch((e: unknown) => e);
      expect((e1 as ClusterError).code).toBe('SOLUTION_VERSION_NOT_IMPORTED');
      const e2 = await cluster.environments.addSolution('nowhere', { name: 'zenko', version: '2.6.0' }).catch((e: unknown) => e);
      expect((e2 as ClusterError).code).toBe('ENVIRONMENT_NOT_FOUND');
      expect((e2 as ClusterError).message).toContain('nowhere');
      expect(await snapshot()).toEqual(before);
    });

    it('prepare-environment for a version that is not imported: the error carries MetalK8s\' reason, not "Failure!"', async () => {
      const broken = 'zenko-broken';
      await cluster.environments.create(broken);
      await kubeRequest(cluster.kubeConfig, 'PATCH', `/api/v1/namespaces/${broken}/configmaps/metalk8s-environment`, { data: { zenko: '9.9.9' } }, 'application/merge-patch+json');
      const err = await cluster.salt
        .orchestrate('metalk8s.orchestrate.solutions.prepare-environment', { saltenv: cluster.saltenv, pillar: { orchestrate: { env_name: broken } }, pollIntervalMs: 200 })
        .catch((e: unknown) => e);
      expect((err as ClusterError).code).toBe('SALT_ORCHESTRATE_FAILED');
      expect((err as Error).message).toContain(`Cannot deploy Solution zenko-9.9.9 for environment ${broken}: Solution zenko is not available`);
      expect((err as Error).message).not.toContain('Failure!');
      await cluster.environments.delete(broken);
    });

    it('a refused SaltAPI login, an unreachable API server', async () => {
      const e1 = await connect({
        kubeconfigYaml: mk8s.kubeconfigYaml,
        saltApi: { url: mk8s.saltApi.url, username: 'system:serviceaccount:kube-system:someone-else', token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
      }).catch((e: unknown) => e);
      expect(e1).toBeInstanceOf(ClusterError);
      expect((e1 as ClusterError).code).toBe('SALT_AUTH_FAILED');
      const unreachable = mk8s.kubeconfigYaml.replace(/server: https:\/\/127\.0\.0\.1:\d+/, 'server: https://127.0.0.1:1');
      expect(unreachable).not.toBe(mk8s.kubeconfigYaml);
      const e2 = await connect({ kubeconfigYaml: unreachable, saltApi: { url: mk8s.saltApi.url, username: 'u', token: 't' } }).catch((e: unknown) => e);
      expect((e2 as ClusterError).code).toBe('KUBE_API_UNREACHABLE');
      expect((e2 as ClusterError).message).toContain('127.0.0.1:1');
    });
  });

  describe('the happy path, every step twice', () => {
    it('import: registers the archive, lists the version, serves the images; a rerun changes nothing', async () => {
      const events: LifecycleProgressEvent[] = [];
      const first = await cluster.solutions.import(iso1, { onProgress: (e) => events.push(e) });
      expect(first).toMatchObject({ id: 'zenko-2.6.0', changed: true, archive: iso1 });
      // salt-master gets the new mount, which restarts salt-api: the next calls log in again.
      expect(events).toContainEqual({ type: 'step', step: 'metalk8s.salt.master.installed', status: 'done' });
      const again = await cluster.solutions.import(iso1);
      expect(again.changed).toBe(false);
      const config = await solutionsYaml();
      expect(config).toEqual({ apiVersion: 'solutions.metalk8s.scality.com/v1alpha1', kind: 'SolutionsConfiguration', archives: [iso1], active: {} });
      const entries = JSON.parse((await solutionsCm()).zenko ?? '[]') as { id: string; version: string; archive: string; active: boolean; mountpoint: string }[];
      // The display name, as MetalK8s reads it from the manifest's top-level annotations.
      expect(entries).toEqual([expect.objectContaining({ name: 'Zenko', id: 'zenko-2.6.0', version: '2.6.0', archive: iso1, active: false, mountpoint: '/srv/scality/zenko-2.6.0' })]);
      const [listed] = await cluster.solutions.list();
      expect(listed?.versions.map((v) => v.version)).toEqual(['2.6.0']);
    });

    it('the operator image resolves: skopeo pulls <name>-<version>/<image>:<tag> through the registry', async () => {
      const host = mk8s.registryUrl.replace(/^http:\/\//, '');
      const out = join(dir, 'pulled');
      await pexec('skopeo', ['copy', '--insecure-policy', '--src-tls-verify=false', `docker://${host}/zenko-2.6.0/zenko-operator:2.6.0`, `dir:${out}`]);
      const manifest = JSON.parse(await readFile(join(out, 'manifest.json'), 'utf8')) as { layers: unknown[] };
      expect(manifest.layers.length).toBeGreaterThan(0);
      const missing = await pexec('skopeo', ['inspect', '--tls-verify=false', `docker://${host}/zenko-2.6.0/zenko-operator:9.9.9`]).catch((e: Error) => e);
      expect(missing).toBeInstanceOf(Error);
    });

    it('activate: CRDs applied, platform objects labelled as the SDK owns them; a rerun changes nothing', async () => {
      const r1 = await cluster.solutions.activate('zenko', { version: '2.6.0' });
      expect(r1.changed).toBe(true);
      const r2 = await cluster.solutions.activate('zenko', { version: '2.6.0' });
      expect(r2.changed).toBe(false);
      expect((await solutionsYaml()).active).toEqual({ zenko: '2.6.0' });
      expect(await get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/zenkos.zenko.io')).toBeDefined();
      const sc = r1.platformObjects.find((o) => o.startsWith('StorageClass/'));
      expect(sc).toBeDefined();
      const stored = await get(`/apis/storage.k8s.io/v1/storageclasses/${sc?.split('/')[1]}`);
      expect(stored?.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'metalk8s-solution-sdk', 'app.kubernetes.io/part-of': 'zenko' });
      const [listed] = await cluster.solutions.list();
      expect(listed?.active).toBe('2.6.0');
    });

    it('environment create and list; a rerun changes nothing', async () => {
      await cluster.environments.create(env, { description: 'Production' });
      const again = await cluster.environments.create(env, { description: 'Production' });
      expect(again).toEqual({ name: env, description: 'Production', namespaces: [env], solutions: {} });
    });

    it('add: the operator Deployment is exactly what renderEnvironment predicts, and it is Available', async () => {
      const events: LifecycleProgressEvent[] = [];
      const r1 = await cluster.environments.addSolution(env, { name: 'zenko', version: '2.6.0', onProgress: (e) => events.push(e) });
      expect(r1.changed).toBe(true);
      expect(events.some((e) => e.type === 'salt-job' && e.step.endsWith('prepare-environment'))).toBe(true);
      const r2 = await cluster.environments.addSolution(env, { name: 'zenko', version: '2.6.0' });
      expect(r2.changed).toBe(false);
      const predicted = renderEnvironment(v1, { namespace: env, webhook: false, metalk8sVersion: '129.0.0' });
      // Exactly the objects of MetalK8s 129, each with the labels of its Salt writer.
      expect(predicted.objects).toHaveLength(7);
      for (const o of predicted.objects) {
        const ns = o.kind === 'ClusterRole' ? '' : `namespaces/${env}/`;
        const group = o.apiVersion === 'v1' ? '/api/v1' : `/apis/${o.apiVersion}`;
        const plural = `${o.kind.toLowerCase()}s`;
        const live = (await get(`${group}/${ns}${plural}/${o.metadata.name}`)) as (Obj & Record<string, unknown>) | undefined;
        expect(live, `${o.kind}/${o.metadata.name}`).toBeDefined();
        expect(live?.metadata.labels, `${o.kind}/${o.metadata.name}`).toEqual(o.metadata.labels);
        if (o.kind === 'RoleBinding') expect(live?.subjects).toEqual(o.subjects);
      }
      for (const path of ['/api/v1/namespaces/zenko-prod/services/zenko-operator-metrics', '/apis/monitoring.coreos.com/v1/namespaces/zenko-prod/servicemonitors/zenko-operator']) {
        expect(await get(path).catch(() => undefined), path).toBeUndefined();
      }
      const dep = (await get(`/apis/apps/v1/namespaces/${env}/deployments/zenko-operator`)) as Obj;
      const want = predicted.objects.find((o) => o.kind === 'Deployment') as unknown as Obj;
      expect(dep.metadata.labels).toEqual(want.metadata.labels);
      // The prediction goes through the same API server (dry run) so both get the same defaults.
      const dry = await kubeRequest(cluster.kubeConfig, 'POST', `/apis/apps/v1/namespaces/${env}/deployments?dryRun=All`, {
        ...want,
        metadata: { ...want.metadata, name: 'predicted' },
      });
      expect(dry.status).toBe(201);
      expect(dep.spec).toEqual((dry.json as Obj).spec);
      const cm = (await get(`/api/v1/namespaces/${env}/configmaps/zenko-operator-config`)) as Obj;
      expect(parseYaml(cm.data?.['operator.yaml'] ?? '')).toEqual(parseYaml(predicted.operatorConfig));
      expect((await cluster.solutions.list())[0]?.versions[0]?.environments).toEqual([env]);
    });

    it('a second addSolution replaces the operator Deployment: fields patched on top are wiped, as MetalK8s does', async () => {
      const path = `/apis/apps/v1/namespaces/${env}/deployments/zenko-operator`;
      const patch = await kubeRequest(
        cluster.kubeConfig,
        'PATCH',
        path,
        { metadata: { labels: { 'example.com/patched': 'yes' } }, spec: { template: { spec: { containers: [{ name: 'zenko-operator', args: ['--leader-elect'], resources: { limits: { memory: '1Gi' } } }] } } } },
        'application/strategic-merge-patch+json',
      );
      expect(patch.status).toBe(200);
      await cluster.environments.addSolution(env, { name: 'zenko', version: '2.6.0' });
      const dep = (await get(path)) as Obj & { spec: { template: { spec: { containers: Record<string, unknown>[] } } } };
      expect(dep.metadata.labels?.['example.com/patched']).toBeUndefined();
      expect(dep.spec.template.spec.containers[0]?.args).toBeUndefined();
      expect(dep.spec.template.spec.containers[0]?.resources).toEqual({});
      // The model refuses what would be wiped, before anything reaches the cluster.
      const refused = validateSolution({ ...v1.definition, operator: { ...v1.definition.operator, args: ['--leader-elect'] } });
      expect(refused.ok).toBe(false);
      expect(refused.issues.find((i) => i.path === 'operator.args')?.code).toBe('OPERATOR_OVERRIDE_UNSUPPORTED');
    });

    it('an operator that cannot become Available: the error says why', async () => {
      const quotaEnv = 'zenko-quota';
      await cluster.environments.create(quotaEnv);
      const q = await kubeRequest(cluster.kubeConfig, 'POST', `/api/v1/namespaces/${quotaEnv}/resourcequotas`, {
        apiVersion: 'v1',
        kind: 'ResourceQuota',
        metadata: { name: 'no-pods' },
        spec: { hard: { pods: '0' } },
      });
      expect(q.status).toBe(201);
      const err = await cluster.environments.addSolution(quotaEnv, { name: 'zenko', version: '2.6.0', timeoutMs: 8000 }).catch((e: unknown) => e);
      expect((err as ClusterError).code).toBe('OPERATOR_NOT_AVAILABLE');
      expect((err as ClusterError).message).toMatch(/exceeded quota/);
      await cluster.environments.removeSolution(quotaEnv, { name: 'zenko' });
      await cluster.environments.delete(quotaEnv);
    });

    it('upgrade to a second version; a rerun changes nothing', async () => {
      // A client killed after registering the archive, before the orchestrate: the rerun converges.
      const ac = new AbortController();
      const killed = await cluster.solutions
        .import(iso2, {
          signal: ac.signal,
          onProgress: (e) => {
            if (e.type === 'step' && e.step === 'saltutil.refresh_pillar' && e.status === 'done') ac.abort();
          },
        })
        .catch((e: unknown) => e);
      expect((killed as Error).name).toBe('AbortError');
      expect((await solutionsYaml()).archives).toEqual([iso1, iso2]);
      expect(JSON.parse((await solutionsCm()).zenko ?? '[]')).toHaveLength(1);
      expect((await cluster.solutions.import(iso2)).changed).toBe(true);
      expect((await solutionsYaml()).archives).toEqual([iso1, iso2]);
      // Two clients upgrading at the same time: both succeed, the result is the same.
      const other = await connect({
        kubeconfigYaml: mk8s.kubeconfigYaml,
        saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
      });
      const warnings: string[] = [];
      const [r1] = await Promise.all([
        cluster.environments.upgradeSolution(env, { name: 'zenko', version: '2.7.0', onProgress: (e) => e.type === 'warning' && warnings.push(e.message) }),
        other.environments.upgradeSolution(env, { name: 'zenko', version: '2.7.0' }),
      ]);
      expect(warnings).toContain('zenko moves from 2.6.0 to 2.7.0 in zenko-prod');
      expect(r1.changed).toBe(true);
      expect((await cluster.environments.upgradeSolution(env, { name: 'zenko', version: '2.7.0' })).changed).toBe(false);
      const dep = (await get(`/apis/apps/v1/namespaces/${env}/deployments/zenko-operator`)) as Obj;
      const image = (dep.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]?.image;
      expect(image).toBe('metalk8s-registry-from-config.invalid/zenko-2.7.0/zenko-operator:2.7.0');
      const predicted = renderEnvironment(v2, { namespace: env, importedVersions: [{ version: '2.6.0', images: imagesOf(v1) }, { version: '2.7.0', images: imagesOf(v2) }] });
      const cm = (await get(`/api/v1/namespaces/${env}/configmaps/zenko-operator-config`)) as Obj;
      expect(parseYaml(cm.data?.['operator.yaml'] ?? '')).toEqual(parseYaml(predicted.operatorConfig));
    });

    it('remove from the environment deletes the operator objects MetalK8s leaves behind; a rerun changes nothing', async () => {
      const events: LifecycleProgressEvent[] = [];
      const r1 = await cluster.environments.removeSolution(env, { name: 'zenko', onProgress: (e) => events.push(e) });
      expect(r1.deleted).toContain(`Deployment/${env}/zenko-operator`);
      expect(events.some((e) => e.type === 'warning' && /leaves/.test(e.message))).toBe(true);
      expect(await get(`/apis/apps/v1/namespaces/${env}/deployments/zenko-operator`)).toBeUndefined();
      expect((await cluster.environments.removeSolution(env, { name: 'zenko' })).changed).toBe(false);
      expect((await cluster.environments.list()).find((e) => e.name === env)?.solutions).toEqual({});
    });

    it('remove is refused while the version is active, with the reason', async () => {
      const before = await snapshot();
      const err = await cluster.solutions.remove(iso1).catch((e: unknown) => e);
      expect((err as ClusterError).code).toBe('SOLUTION_ACTIVE');
      expect(await snapshot()).toEqual(before);
    });

    it('deactivate deletes the CRDs and platform objects, with a warning; a rerun changes nothing', async () => {
      const events: LifecycleProgressEvent[] = [];
      const r1 = await cluster.solutions.deactivate('zenko', { onProgress: (e) => events.push(e) });
      expect(r1.changed).toBe(true);
      expect(events.some((e) => e.type === 'warning' && /every custom resource/.test(e.message))).toBe(true);
      expect(await get('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/zenkos.zenko.io')).toBeUndefined();
      expect(r1.platformObjects.some((o) => o.startsWith('StorageClass/'))).toBe(true);
      expect((await cluster.solutions.deactivate('zenko')).changed).toBe(false);
      expect((await solutionsYaml()).active).toEqual({});
    });

    it('a client killed between configure_archive and the orchestrate: the rerun converges', async () => {
      // Remove 2.6.0, interrupted after the archive left solutions.yaml but before the orchestrate.
      const ac2 = new AbortController();
      const e2 = await cluster.solutions
        .remove(iso1, {
          signal: ac2.signal,
          onProgress: (e) => {
            if (e.type === 'step' && e.step === 'saltutil.refresh_pillar' && e.status === 'done') ac2.abort();
          },
        })
        .catch((e: unknown) => e);
      expect((e2 as Error).name).toBe('AbortError');
      expect((await solutionsYaml()).archives).toEqual([iso2]);
      const r = await cluster.solutions.remove(iso1);
      expect(r.changed).toBe(true);
      expect(JSON.parse((await solutionsCm()).zenko ?? '[]').map((e: { version: string }) => e.version)).toEqual(['2.7.0']);
    });

    it('removing the archives; a rerun changes nothing; the environment is deleted', async () => {
      expect((await cluster.solutions.remove(iso2)).changed).toBe(true);
      expect((await cluster.solutions.remove(iso2)).changed).toBe(false);
      expect(await solutionsCm()).toEqual({});
      expect((await solutionsYaml()).archives).toEqual([]);
      expect(await cluster.solutions.list()).toEqual([]);
      const missing = await pexec('skopeo', ['inspect', '--tls-verify=false', `docker://${mk8s.registryUrl.replace(/^http:\/\//, '')}/zenko-2.6.0/zenko-operator:2.6.0`]).catch((e: Error) => e);
      expect(missing).toBeInstanceOf(Error);
      expect((await cluster.environments.delete(env)).namespaces).toEqual([env]);
      expect((await cluster.environments.list()).map((e) => e.name)).not.toContain(env);
    });

    it('two clients importing two versions at once: both end up imported, then both removed', async () => {
      const other = await connect({
        kubeconfigYaml: mk8s.kubeconfigYaml,
        saltApi: { url: mk8s.saltApi.url, username: mk8s.saltApi.username, token: mk8s.saltApi.token, ca: mk8s.saltApi.ca },
      });
      const [a, b] = await Promise.all([cluster.solutions.import(iso1), other.solutions.import(iso2)]);
      expect([a.changed, b.changed]).toEqual([true, true]);
      expect((await solutionsYaml()).archives.sort()).toEqual([iso1, iso2].sort());
      expect((await cluster.solutions.list())[0]?.versions.map((v) => v.version).sort()).toEqual(['2.6.0', '2.7.0']);
      await Promise.all([cluster.solutions.remove(iso1), other.solutions.remove(iso2)]);
      expect(await cluster.solutions.list()).toEqual([]);
    });
  });
});

function imagesOf(s: Solution): string[] {
  return [...new Set(s.definition.images.map((i) => `${i.name}:${i.tag}`))].sort();
}

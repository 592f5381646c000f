/**
 * The Solution orchestrates of the emulator, as MetalK8s' Salt runs them
 * (metalk8s-reference.md §2.5–§2.9): `metalk8s.orchestrate.solutions.import-components` (mount
 * the configured archives, expose their images, rewrite the `metalk8s-solutions` ConfigMap),
 * `deploy-components` (CRDs of the active versions) and `prepare-environment` (the objects of
 * `_environment-objects.ts` in each namespace of an environment).
 */
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { isRecord } from '../_record.js';
import { applyObject, deleteObject, type Discovery, kubeGet, kubePatch, kubeRequest } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { renderRegistryConfig } from '../packaging/images/registry-layout.js';
import type { MetalK8sFeatures } from '../solution/metalk8s-version.js';
import { compareVersions } from '../solution/version-order.js';
import { type AvailableVersion, environmentObjects } from './_environment-objects.js';
import type { BootstrapFiles } from './_solutions-files.js';
import type { RepositoriesRegistry } from './_solutions-registry.js';
import type { OrchestrateContext, OrchestrateHandler } from './salt-api-emulator.js';

const ENV_LABEL = 'solutions.metalk8s.scality.com/environment';
const SOLUTIONS_NS = 'metalk8s-solutions';
const SOLUTIONS_CM = 'metalk8s-solutions';
/** The field manager of what Salt applies. */
export const FIELD_MANAGER = 'salt';

/** What the orchestrates read and write. */
export interface OrchestrateDeps {
  readonly kubeConfig: KubeConfig;
  readonly discovery: Discovery;
  readonly files: BootstrapFiles;
  /** The registry's `conf.d`, one `<id>-registry-config.inc` per imported Solution. */
  readonly confD: string;
  readonly registry: Pick<RepositoriesRegistry, 'reload'>;
  /** What the MetalK8s version played writes in prepare-environment. */
  readonly features: MetalK8sFeatures;
}

/** The three Solution orchestrates, by their function names. */
export function solutionOrchestrates(deps: OrchestrateDeps): { importComponents: OrchestrateHandler; deployComponents: OrchestrateHandler; prepareEnvironment: OrchestrateHandler } {
  const { kubeConfig: kc, discovery, confD, features } = deps;
  const { readConfig, readMounts, writeMounts, manifestFromIso, mountIso, listAvailable, mountpointOf, solutionNameOf } = deps.files;
  const reloadNginx = deps.registry.reload;

  const readSolutionsConfigMap = async (): Promise<Record<string, AvailableVersion[]>> => {
    const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${SOLUTIONS_NS}/configmaps/${SOLUTIONS_CM}`);
    const out: Record<string, AvailableVersion[]> = {};
    for (const [k, v] of Object.entries(cm?.data ?? {})) out[k] = JSON.parse(v) as AvailableVersion[];
    return out;
  };

  const importComponents: OrchestrateHandler = async ({ step }) => {
    const cfg = await readConfig(true);
    let mounts = await readMounts();
    let ok = true;
    const changed: string[] = [];
    for (const archive of cfg.archives) {
      let info: { name: string; version: string } | undefined;
      ok =
        (await step(`Read manifest of ${archive}`, 'module.run', async () => {
          info = await manifestFromIso(archive);
          return { result: true, comment: `Solution ${info.name}-${info.version} found in ${archive}` };
        }, { name: 'metalk8s_solutions.manifest_from_iso' })) && ok;
      if (!info) continue;
      const id = `${info.name}-${info.version}`;
      const mountpoint = mountpointOf(id);
      const already = mounts.find((m) => m.id === id);
      ok =
        (await step(`Mount Solution archive ${archive}`, 'mount.mounted', async () => {
          if (already && already.archive !== archive) throw new Error(`${mountpoint} is already used by ${already.archive}`);
          if (already && (await stat(join(mountpoint, 'manifest.yaml')).catch(() => undefined))) {
            return { result: true, comment: 'Target was already mounted' };
          }
          await mountIso(archive, mountpoint);
          mounts = [...mounts.filter((m) => m.id !== id), { id, archive, mountpoint }];
          await writeMounts(mounts);
          changed.push(id);
          return { result: true, comment: 'Target was successfully mounted', changes: { mount: true } };
        }, { name: `/srv/scality/${id}` })) && ok;
      ok =
        (await step(`Check Solution ${id} content`, 'file.exists', async () => {
          for (const f of ['manifest.yaml', 'images']) {
            if (!(await stat(join(mountpoint, f)).catch(() => undefined))) throw new Error(`Specified path /srv/scality/${id}/${f} does not exist`);
          }
          return { result: true, comment: 'Path exists' };
        }, { name: `/srv/scality/${id}` })) && ok;
      ok =
        (await step(`Expose container images for Solution ${id}`, 'file.managed', async () => {
          const template = await readFile(join(mountpoint, 'registry-config.inc.j2'), 'utf8').catch(() => {
            throw new Error(`Source file salt://... /srv/scality/${id}/registry-config.inc.j2 not found`);
          });
          const rendered = renderRegistryConfig(template, { repository: id, registryRoot: join(mountpoint, 'images') });
          const dest = join(confD, `${id}-registry-config.inc`);
          const old = await readFile(dest, 'utf8').catch(() => undefined);
          if (old === rendered) return { result: true, comment: `File ${dest} is in the correct state` };
          await writeFile(dest, rendered);
          changed.push(id);
          return { result: true, comment: `File ${dest} updated`, changes: { diff: 'New file' } };
        }, { name: `/var/lib/metalk8s/repositories/conf.d/${id}-registry-config.inc` })) && ok;
    }
    // Versions whose archive left the configuration: refused while active, else removed.
    const activeInCm = await readSolutionsConfigMap();
    for (const m of [...mounts]) {
      if (cfg.archives.includes(m.archive)) continue;
      const isActive = Object.values(activeInCm).some((list) => list.some((v) => v.id === m.id && v.active));
      ok =
        (await step(`Remove Solution ${m.id}`, 'mount.unmounted', async () => {
          if (isActive) throw new Error(`Cannot remove Solution ${m.id}: it is active`);
          await rm(join(confD, `${m.id}-registry-config.inc`), { force: true });
          await rm(m.mountpoint, { recursive: true, force: true });
          mounts = mounts.filter((x) => x.id !== m.id);
          await writeMounts(mounts);
          changed.push(m.id);
          return { result: true, comment: 'Target was successfully unmounted', changes: { umount: 'Forced unmount and cleared the fstab entry' } };
        }, { name: `/srv/scality/${m.id}` })) && ok;
    }
    const configured = await step('Deploy Solutions ConfigMap', 'salt.runner', async () => {
      if (!ok) throw new Error('One or more requisite failed: metalk8s.solutions.available');
      const available = await listAvailable();
      const data: Record<string, string> = {};
      for (const v of available) {
        const name = solutionNameOf(v);
        const wasActive = (activeInCm[name] ?? []).some((x) => x.version === v.version && x.active);
        const list = data[name] ? (JSON.parse(data[name]) as AvailableVersion[]) : [];
        list.push({ ...v, active: wasActive });
        data[name] = JSON.stringify(list);
      }
      const path = `/api/v1/namespaces/${SOLUTIONS_NS}/configmaps/${SOLUTIONS_CM}`;
      await applyObject(
        kc,
        discovery,
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: SOLUTIONS_CM, namespace: SOLUTIONS_NS } , data },
        FIELD_MANAGER,
      );
      // Whole rewrite: keys of removed Solutions go away.
      const cm = await kubeGet<{ data?: Record<string, string> }>(kc, path);
      const stale = Object.keys(cm?.data ?? {}).filter((k) => !(k in data));
      if (stale.length > 0) await kubePatch(kc, path, { data: Object.fromEntries(stale.map((k) => [k, null])) });
      return { result: true, comment: 'Run function: state.orchestrate' };
    }, { name: 'state.orchestrate' });
    await step('Deploy Solutions registry', 'salt.state', async () => {
      if (!configured) throw new Error('One or more requisite failed: Deploy Solutions ConfigMap');
      await reloadNginx();
      return { result: true, comment: 'States ran successfully.', ...(changed.length > 0 ? { changes: { reloaded: changed } } : {}) };
    }, { name: 'metalk8s.repo.installed' });
  };

  const crdFiles = async (mountpoint: string): Promise<string[]> => {
    const root = join(mountpoint, 'operator/deploy/crds');
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.name.endsWith('_crd.yaml')) out.push(p);
      }
    };
    await walk(root);
    return out.sort();
  };
  const readCrd = async (file: string): Promise<KubernetesObject> => {
    const text = await readFile(file, 'utf8');
    if (/\{\{|\{%|\{#/.test(text)) throw new Error(`Failed to render ${file}: Jinja syntax error`);
    const docs = parseAllDocuments(text).filter((d) => d.contents !== null);
    if (docs.length !== 1) throw new Error(`expected a single document in a stream: ${file}`);
    return docs[0]?.toJS() as KubernetesObject;
  };

  const deployComponents: OrchestrateHandler = async ({ step }) => {
    const cfg = await readConfig(true);
    const available = await listAvailable();
    const cm = await readSolutionsConfigMap();
    const names = [...new Set(available.map(solutionNameOf))].sort();
    for (const name of names) {
      const versions = available.filter((v) => solutionNameOf(v) === name);
      const wanted = cfg.active[name];
      const desired = wanted === 'latest' ? [...versions].sort((a, b) => compareVersions(b.version, a.version))[0]?.version : wanted;
      const current = (cm[name] ?? []).find((v) => v.active)?.version;
      let ok = true;
      if (desired !== undefined) {
        const chosen = versions.find((v) => v.version === desired);
        if (!chosen) {
          await failStep(`Cannot deploy Solution ${name}-${desired}`, `Solution ${name}-${desired} is not available`, step);
          continue;
        }
        for (const file of await crdFiles(mountpointOf(chosen.id))) {
          ok =
            (await step(`Apply CRD ${file.slice(mountpointOf(chosen.id).length + 1)} for ${chosen.id}`, 'metalk8s_kubernetes.object_present', async () => {
              const crd = await readCrd(file);
              // object_present creates, or replaces whole, as in prepare-environment.
              const created = await createOrReplace(kc, discovery, crd);
              return { result: true, comment: created ? 'The object was created' : 'The object was replaced', changes: {} };
            }, { name: `/srv/scality/${chosen.id}/${file.slice(mountpointOf(chosen.id).length + 1)}` })) && ok;
        }
      } else if (current !== undefined) {
        const was = versions.find((v) => v.version === current);
        for (const file of was ? await crdFiles(mountpointOf(was.id)) : []) {
          ok =
            (await step(`Remove CRD ${file.slice(mountpointOf(`${name}-${current}`).length + 1)} for ${name}-${current}`, 'metalk8s_kubernetes.object_absent', async () => {
              const crd = await readCrd(file);
              const gone = !(await deleteObject(kc, discovery, crd));
              return { result: true, comment: gone ? 'The object is already absent' : `The object ${crd.metadata?.name} was deleted` };
            })) && ok;
        }
      }
      await step(`Update metalk8s-solutions ConfigMap for ${name}`, 'metalk8s_kubernetes.object_updated', async () => {
        if (!ok) throw new Error('One or more requisite failed');
        const list = versions.map((v) => ({ ...v, active: v.version === desired }));
        await kubePatch(kc, `/api/v1/namespaces/${SOLUTIONS_NS}/configmaps/${SOLUTIONS_CM}`, { data: { [name]: JSON.stringify(list) } });
        return { result: true, comment: `The object ${SOLUTIONS_CM} was updated` };
      });
    }
    for (const name of Object.keys(cfg.active).sort()) {
      if (names.includes(name)) continue;
      await failStep(`Cannot deploy Solution ${name}`, `Solution ${name} is not available`, step);
    }
  };

  const prepareEnvironment: OrchestrateHandler = async ({ pillar, saltenv, step }) => {
    const orch = isRecord(pillar.orchestrate) ? pillar.orchestrate : {};
    const env = orch.env_name;
    const webhook = orch.webhook_enabled === true;
    if (typeof env !== 'string' || env === '') {
      await failStep('Invalid pillar', 'Missing mandatory pillar key orchestrate:env_name', step);
      return;
    }
    const nsList = await kubeGet<{ items: { metadata: { name: string } }[] }>(kc, `/api/v1/namespaces?labelSelector=${encodeURIComponent(`${ENV_LABEL}=${env}`)}`);
    const namespaces = (nsList?.items ?? []).map((n) => n.metadata.name).sort();
    if (namespaces.length === 0) {
      await failStep(`Cannot prepare environment ${env}`, `Environment ${env} does not exist`, step);
      return;
    }
    const available = await listAvailable();
    for (const namespace of namespaces) {
      const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${namespace}/configmaps/metalk8s-environment`);
      for (const [sol, version] of Object.entries(cm?.data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
        const chosen = available.find((v) => solutionNameOf(v) === sol && v.version === version);
        if (!chosen) {
          const known = available.some((v) => solutionNameOf(v) === sol);
          await failStep(
            `Cannot deploy Solution ${sol}-${version} for environment ${env}`,
            known ? `Version ${version} is not available for Solution ${sol}` : `Solution ${sol} is not available`,
            step,
          );
          continue;
        }
        // What `metalk8s_kubernetes` adds to every object it writes (reference §8).
        const written = {
          'app.kubernetes.io/managed-by': 'salt',
          heritage: 'salt',
          'metalk8s.scality.com/version': saltenv.startsWith('metalk8s-') ? saltenv.slice('metalk8s-'.length) : 'unknown',
        };
        const objects = environmentObjects(sol, chosen, available, namespace, webhook && features.webhook, features.operatorMetrics, await readRoles(chosen));
        for (const obj of objects) {
          obj.metadata = { ...obj.metadata, labels: { ...obj.metadata?.labels, ...written } };
          const what = `${obj.kind} ${obj.metadata?.name}`;
          await step(`Apply ${what} in ${namespace}`, 'metalk8s_kubernetes.object_present', async () => {
            const created = await createOrReplace(kc, discovery, obj);
            return { result: true, comment: created ? 'The object was created' : 'The object was replaced', changes: { [String(obj.metadata?.name)]: created ? 'created' : 'replaced' } };
          }, { name: String(obj.metadata?.name) });
        }
      }
    }
  };

  const readRoles = async (v: AvailableVersion): Promise<KubernetesObject[]> => {
    const text = await readFile(join(mountpointOf(v.id), 'operator/deploy/role.yaml'), 'utf8').catch(() => undefined);
    if (text === undefined) return [];
    const docs = parseAllDocuments(text).filter((d) => d.contents !== null).map((d) => d.toJS() as KubernetesObject);
    for (const d of docs) if (d.kind !== 'Role' && d.kind !== 'ClusterRole') throw new Error(`Forbidden object kind "${d.kind}" in role.yaml`);
    return docs;
  };

  return { importComponents, deployComponents, prepareEnvironment };
}

function failStep(id: string, reason: string, step: OrchestrateContext['step']): Promise<boolean> {
  return step(id, 'test.fail_without_changes', async () => ({ result: false, comment: 'Failure!' }), { name: reason });
}

/**
 * `metalk8s_kubernetes.object_present`: creates the object, or replaces it whole (PUT) when it
 * exists, so fields others added are wiped (reference §8). Returns whether it was created.
 */
async function createOrReplace(kc: KubeConfig, discovery: Discovery, obj: KubernetesObject): Promise<boolean> {
  let path = await discovery.path(obj);
  if (!path) {
    discovery.reset(obj.apiVersion);
    path = await discovery.path(obj);
  }
  if (!path) throw new Error(`the API server does not serve ${obj.kind} in ${obj.apiVersion}`);
  const existing = await kubeGet<KubernetesObject & { spec?: Record<string, unknown> }>(kc, path);
  if (!existing) {
    const res = await kubeRequest(kc, 'POST', path.slice(0, path.lastIndexOf('/')), obj);
    if (res.status >= 300) throw new Error(`Failed to create ${obj.kind} ${obj.metadata?.name}: ${JSON.stringify(res.json)}`);
    return true;
  }
  const body: KubernetesObject & { spec?: Record<string, unknown> } = { ...obj, metadata: { ...obj.metadata, resourceVersion: existing.metadata?.resourceVersion } };
  // A Service keeps its allocated addresses across a replace.
  if (obj.kind === 'Service' && existing.spec) body.spec = { ...(body.spec ?? {}), clusterIP: existing.spec.clusterIP, clusterIPs: existing.spec.clusterIPs };
  const res = await kubeRequest(kc, 'PUT', path, body);
  if (res.status >= 300) throw new Error(`Failed to replace ${obj.kind} ${obj.metadata?.name}: ${JSON.stringify(res.json)}`);
  return false;
}

/**
 * The Solution side of the MetalK8s emulator, written from metalk8s-reference.md §1–§2 (and not
 * from the SDK's own renderers, so tests compare two independent readings of MetalK8s):
 *
 * - the bootstrap minion's `metalk8s_solutions.configure_archive` / `activate_solution` /
 *   `deactivate_solution` execution functions, over an emulated `/etc/metalk8s/solutions.yaml`
 *   kept in the state directory (§2.1), and `saltutil.refresh_pillar`;
 * - the orchestrates `metalk8s.orchestrate.solutions.import-components` (§2.5),
 *   `deploy-components` (§2.6) and `prepare-environment` (§2.7–§2.9);
 * - the `repositories` registry: real nginx serving every imported ISO's `images/` with the
 *   ISO's own `registry-config.inc.j2`, rendered as Salt renders it (§1.5).
 *
 * "Mounting" an ISO extracts its Rock Ridge tree under `<state>/srv/scality/<id>/` with the
 * SDK's ISO reader (no loop mount: CI runs unprivileged containers). Written by hand: this plays
 * MetalK8s' Salt states, which no library does.
 */
import { ClusterError } from '../errors.js';
import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml, parseAllDocuments, stringify as stringifyYaml } from 'yaml';
import { applyObject, Discovery, deleteObject, kubeGet, kubePatch, kubeRequest } from '../_kube.js';
import type { KubernetesObject } from '../solution/kubernetes-object.js';
import { openIso } from '../packaging/iso/index.js';
import { registryCommonConfig, renderRegistryConfig } from '../packaging/images/registry-layout.js';
import { type Daemon, startDaemon } from './_process.js';
import { freePort } from './_ports.js';
import type { EmulatedMinionFunction, OrchestrateContext, OrchestrateHandler } from './salt-api-emulator.js';
import { staticRegistryNginxConf, NGINX_TEMP_DIRS } from './_nginx.js';
import { compareVersions } from '../solution/version-order.js';
import { DEFAULT_METALK8S_VERSION, metalk8sFeatures } from '../solution/metalk8s-version.js';
import { isRecord } from '../_record.js';
import { API, type AvailableVersion, certManagerCrds, environmentObjects } from './_environment-objects.js';

const pexec = promisify(execFile);

const NAME_RE = /^(?!-)[0-9a-z-]{1,63}(?<!-)$/;
const ENV_LABEL = 'solutions.metalk8s.scality.com/environment';
const SOLUTIONS_NS = 'metalk8s-solutions';
const SOLUTIONS_CM = 'metalk8s-solutions';
const FIELD_MANAGER = 'salt';

type MinionFunction = EmulatedMinionFunction;

/** A Salt `CommandExecutionError`: the local client answers `ERROR: <message>` with retcode 1. */
export class CommandExecutionError extends Error {}

interface SolutionsConfig {
  apiVersion: string;
  kind: string;
  archives: string[];
  active: Record<string, string>;
}

interface Mounted {
  readonly id: string;
  readonly archive: string;
  readonly mountpoint: string;
}

/** The Solution part of a running emulator. */
export interface SolutionsEmulator {
  readonly minionFunctions: Readonly<Record<string, MinionFunction>>;
  readonly orchestrates: Readonly<Record<string, OrchestrateHandler>>;
  /** `http://127.0.0.1:<port>`: the `repositories` registry. */
  readonly registryUrl: string;
  /** Path of the emulated `/etc/metalk8s/solutions.yaml`. */
  readonly configPath: string;
  stop(): Promise<void>;
}



/** Salt's `dictupdate.merge(strategy="recurse")`: dicts merged key by key, lists replaced. */
function mergeRecurse(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isRecord(b) && isRecord(v) ? mergeRecurse(b, v) : v;
  }
  return out;
}

/** Salt's keyword arguments: `kwarg`, plus `key=value` strings among the positional ones. */
function kwargsOf(arg: readonly unknown[], kwarg: Readonly<Record<string, unknown>>): { pos: unknown[]; kw: Record<string, unknown> } {
  const pos: unknown[] = [];
  const kw: Record<string, unknown> = { ...kwarg };
  for (const a of arg) {
    const m = typeof a === 'string' ? /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a) : null;
    if (m?.[1] !== undefined && m[2] !== undefined) kw[m[1]] = parseYaml(m[2]);
    else pos.push(a);
  }
  return { pos, kw };
}

/** Runs calls one at a time: the bootstrap node's files are read, changed and written whole. */
function serialized<A extends unknown[], R>(lock: { tail: Promise<unknown> }, fn: (...a: A) => Promise<R>): (...a: A) => Promise<R> {
  return (...a: A) => {
    const run = lock.tail.then(() => fn(...a));
    lock.tail = run.catch(() => undefined);
    return run;
  };
}

/** Starts nginx for the `repositories` registry and returns the Solution functions. */
export async function startSolutionsEmulator(options: {
  readonly kubeConfig: KubeConfig;
  readonly stateDir: string;
  /** Called when salt-master's static pod changes (after an import): salt-api restarts. */
  readonly onSaltMasterRestart?: (() => void) | undefined;
  /** The MetalK8s version played: it decides what prepare-environment writes. @default '129.0.0' */
  readonly metalk8sVersion?: string | undefined;
}): Promise<SolutionsEmulator> {
  const features = metalk8sFeatures(options.metalk8sVersion ?? DEFAULT_METALK8S_VERSION);
  const kc = options.kubeConfig;
  const discovery = new Discovery(kc);
  const state = options.stateDir;
  const configPath = join(state, 'etc/metalk8s/solutions.yaml');
  const mountsPath = join(state, 'etc/fstab.json');
  const srv = join(state, 'srv/scality');
  const repoDir = join(state, 'repositories');
  const confD = join(repoDir, 'conf.d');
  await mkdir(srv, { recursive: true });
  await mkdir(confD, { recursive: true });
  await mkdir(dirname(configPath), { recursive: true });
  for (const d of [state, join(state, 'srv'), srv]) await chmod(d, 0o755);

  // --- the repositories registry (nginx) ----------------------------------------------------
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

  // --- /etc/metalk8s/solutions.yaml and mounts ----------------------------------------------
  const readConfig = async (create: boolean): Promise<SolutionsConfig> => {
    let text: string;
    try {
      text = await readFile(configPath, 'utf8');
    } catch {
      if (create) return { apiVersion: API, kind: 'SolutionsConfiguration', archives: [], active: {} };
      throw new CommandExecutionError(`Failed to load "${'/etc/metalk8s/solutions.yaml'}": file does not exist`);
    }
    const cfg = parseYaml(text) as Partial<SolutionsConfig> | null;
    if (cfg?.apiVersion !== API || cfg.kind !== 'SolutionsConfiguration') {
      throw new CommandExecutionError(`Invalid "apiVersion" or "kind" in "/etc/metalk8s/solutions.yaml": expected ${API}/SolutionsConfiguration`);
    }
    return { apiVersion: API, kind: 'SolutionsConfiguration', archives: [...(cfg.archives ?? [])], active: { ...(cfg.active ?? {}) } };
  };
  const writeConfig = async (cfg: SolutionsConfig): Promise<void> => {
    const tmp = `${configPath}.tmp`;
    await writeFile(tmp, stringifyYaml(cfg));
    await rename(tmp, configPath);
  };
  const readMounts = async (): Promise<Mounted[]> => {
    try {
      return JSON.parse(await readFile(mountsPath, 'utf8')) as Mounted[];
    } catch {
      return [];
    }
  };
  const writeMounts = async (mounts: readonly Mounted[]): Promise<void> => {
    await writeFile(`${mountsPath}.tmp`, JSON.stringify(mounts, null, 2));
    await rename(`${mountsPath}.tmp`, mountsPath);
  };

  /** `manifest_from_iso`: `isoinfo -x /MANIFEST.YAML\;1` on the primary directory records. */
  const manifestFromIso = async (archive: string): Promise<{ name: string; version: string; raw: Record<string, unknown> }> => {
    const head = Buffer.alloc(5);
    const fh = await open(archive, 'r').catch(() => undefined);
    if (!fh) throw new CommandExecutionError(`Solution archive '${archive}' does not exist`);
    try {
      await fh.read(head, 0, 5, 32769);
    } finally {
      await fh.close();
    }
    if (head.toString('latin1') !== 'CD001') throw new CommandExecutionError(`Failed to run isoinfo: '${archive}' is not an ISO 9660 image`);
    const iso = await openIso(archive);
    let text = '';
    try {
      const root = await iso.readdir('', { view: 'primary' });
      const entry = root.find((e) => e.name === 'MANIFEST.YAML;1' || e.name === 'MANIFEST.YAML');
      if (entry) text = (await iso.readFile(entry, { view: 'primary' })).toString('utf8');
    } finally {
      await iso.close();
    }
    if (text.trim() === '') throw new CommandExecutionError(`Solution archive '${archive}' must contain a 'manifest.yaml' file`);
    const raw = parseYaml(text) as unknown;
    if (!isRecord(raw)) throw new CommandExecutionError(`Solution archive '${archive}': 'manifest.yaml' is not a mapping`);
    const md = isRecord(raw.metadata) ? raw.metadata : {};
    const spec = isRecord(raw.spec) ? raw.spec : {};
    const name = md.name;
    const version = spec.version;
    if (typeof name !== 'string' || typeof version !== 'string') {
      throw new CommandExecutionError(`Missing mandatory key(s) in Solution 'manifest.yaml': metadata.name and spec.version are required`);
    }
    if (!NAME_RE.test(name)) throw new CommandExecutionError(`Invalid name for Solution: '${name}' must match ${NAME_RE.source}`);
    return { name, version, raw };
  };

  /** "Mounts" an ISO: extracts its Rock Ridge tree to the mountpoint (temp dir, then rename). */
  const mountIso = async (archive: string, mountpoint: string): Promise<void> => {
    const tmp = `${mountpoint}.mounting`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true, mode: 0o755 });
    const iso = await openIso(archive);
    try {
      for (const e of await iso.list({ view: 'rockridge' })) {
        const dest = join(tmp, e.path);
        if (e.type === 'directory') await mkdir(dest, { recursive: true, mode: 0o755 });
        else if (e.type === 'file') {
          await mkdir(dirname(dest), { recursive: true, mode: 0o755 });
          await pipeline(iso.createReadStream(e, { view: 'rockridge' }), createWriteStream(dest, { mode: 0o644 }));
        }
      }
    } finally {
      await iso.close();
    }
    await rm(mountpoint, { recursive: true, force: true });
    await rename(tmp, mountpoint);
    await chmod(mountpoint, 0o755);
  };

  /** `list_available`: every mounted Solution with its merged manifest. */
  const listAvailable = async (): Promise<AvailableVersion[]> => {
    const out: AvailableVersion[] = [];
    for (const m of await readMounts()) {
      if (m.mountpoint.startsWith(join(srv, 'metalk8s-'))) continue;
      const raw = parseYaml(await readFile(join(m.mountpoint, 'manifest.yaml'), 'utf8')) as Record<string, unknown>;
      if (raw.apiVersion !== API || raw.kind !== 'Solution') continue; // "not a Solution", logged and skipped
      const md = raw.metadata as Record<string, unknown>;
      const name = String(md.name);
      const version = String((raw.spec as Record<string, unknown>).version);
      const images: string[] = [];
      const imagesDir = join(m.mountpoint, 'images');
      for (const img of (await readdir(imagesDir).catch(() => [])).sort()) {
        for (const tag of (await readdir(join(imagesDir, img)).catch(() => [])).sort()) images.push(`${img}:${tag}`);
      }
      const defaults: Record<string, unknown> = {
        apiVersion: API,
        kind: 'Solution',
        metadata: { annotations: {}, labels: {}, name },
        spec: {
          version,
          images,
          operator: { image: { name: `${name}-operator`, tag: version } },
          ui: { image: { name: `${name}-ui`, tag: version } },
          customApiGroups: [],
        },
      };
      const manifest = mergeRecurse(defaults, raw);
      const topAnnotations = isRecord(raw.annotations) ? raw.annotations : {};
      const display = topAnnotations['solutions.metalk8s.scality.com/display-name'];
      out.push({
        name: typeof display === 'string' ? display : name,
        id: `${name}-${version}`,
        mountpoint: `/srv/scality/${name}-${version}`,
        archive: m.archive,
        version,
        manifest,
        active: false,
      });
    }
    return out;
  };
  const mountpointOf = (id: string): string => join(srv, id);
  const solutionNameOf = (v: AvailableVersion): string => String((v.manifest.metadata as Record<string, unknown>).name);

  const readSolutionsConfigMap = async (): Promise<Record<string, AvailableVersion[]>> => {
    const cm = await kubeGet<{ data?: Record<string, string> | null }>(kc, `/api/v1/namespaces/${SOLUTIONS_NS}/configmaps/${SOLUTIONS_CM}`);
    const out: Record<string, AvailableVersion[]> = {};
    for (const [k, v] of Object.entries(cm?.data ?? {})) out[k] = JSON.parse(v) as AvailableVersion[];
    return out;
  };

  // --- minion functions ------------------------------------------------------------------------
  const minionFunctions: Record<string, MinionFunction> = {
    // Salt's disk.usage: the bootstrap node's root is the state directory (sizes in KiB, as strings).
    'disk.usage': async () => {
      const fs = await statfs(state);
      const kib = (blocks: number) => String(Math.floor((blocks * fs.bsize) / 1024));
      const used = fs.blocks - fs.bfree;
      return { '/': { filesystem: state, '1K-blocks': kib(fs.blocks), used: kib(used), available: kib(fs.bavail), capacity: `${Math.round((used / Math.max(1, fs.blocks)) * 100)}%` } };
    },
    'metalk8s_solutions.configure_archive': async ({ arg, kwarg }) => {
      const { pos, kw } = kwargsOf(arg, kwarg);
      const archive = String(kw.archive ?? pos[0] ?? '');
      if (!archive.startsWith('/')) throw new CommandExecutionError(`Archive path must be absolute, got '${archive}'`);
      const cfg = await readConfig(kw.create_config === true);
      const removed = kw.removed === true;
      if (removed) cfg.archives = cfg.archives.filter((a) => a !== archive);
      else if (!cfg.archives.includes(archive)) cfg.archives.push(archive);
      await writeConfig(cfg);
      return true;
    },
    'metalk8s_solutions.activate_solution': async ({ arg, kwarg }) => {
      const { pos, kw } = kwargsOf(arg, kwarg);
      const solution = String(kw.solution ?? pos[0] ?? '');
      const version = String(kw.version ?? pos[1] ?? 'latest');
      const available = (await listAvailable()).filter((v) => solutionNameOf(v) === solution);
      if (available.length === 0) throw new CommandExecutionError(`Cannot activate Solution '${solution}': not available`);
      if (version !== 'latest' && !available.some((v) => v.version === version)) {
        throw new CommandExecutionError(`Cannot activate version '${version}' for Solution '${solution}': not available`);
      }
      const cfg = await readConfig(false);
      cfg.active[solution] = version;
      await writeConfig(cfg);
      return true;
    },
    'metalk8s_solutions.deactivate_solution': async ({ arg, kwarg }) => {
      const { pos, kw } = kwargsOf(arg, kwarg);
      const solution = String(kw.solution ?? pos[0] ?? '');
      const cfg = await readConfig(false);
      delete cfg.active[solution];
      await writeConfig(cfg);
      return true;
    },
    'saltutil.refresh_pillar': async () => true,
    // Only the state the import runs on the bootstrap node: it regenerates the salt-master
    // static pod with the Solution mounts, which restarts salt-master and salt-api (§2.5).
    'state.sls': async ({ arg, kwarg }) => {
      const { pos, kw } = kwargsOf(arg, kwarg);
      const mods = String(kw.mods ?? pos[0] ?? '');
      const saltenv = String(kw.saltenv ?? 'base');
      if (mods !== 'metalk8s.salt.master.installed') throw new CommandExecutionError(`No matching sls found for '${mods}' in env '${saltenv}'`);
      const mounts = await readMounts();
      const manifest = JSON.stringify(mounts.map((m) => m.id).sort());
      const marker = join(state, 'etc/salt-master-mounts.json');
      const previous = await readFile(marker, 'utf8').catch(() => '[]');
      const changed = previous !== manifest;
      if (changed) {
        await writeFile(marker, manifest);
        // The pod restarts once the answer is sent.
        setTimeout(() => options.onSaltMasterRestart?.(), 50);
      }
      return {
        'metalk8s_static_pod_|-Install salt-master manifest_|-/etc/kubernetes/manifests/salt-master.yaml_|-managed': {
          result: true,
          comment: changed ? 'File /etc/kubernetes/manifests/salt-master.yaml updated' : 'File /etc/kubernetes/manifests/salt-master.yaml is in the correct state',
          changes: changed ? { diff: manifest } : {},
          __run_num__: 0,
          __sls__: mods,
          __id__: 'Install salt-master manifest',
          name: '/etc/kubernetes/manifests/salt-master.yaml',
        },
      };
    },
  };

  // --- orchestrates -------------------------------------------------------------------------
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

  // MetalK8s ships cert-manager, which the operator metrics objects need (§2.9).
  for (const crd of certManagerCrds()) await applyObject(kc, discovery, crd, FIELD_MANAGER);

  const lock = { tail: Promise.resolve() as Promise<unknown> };
  return {
    minionFunctions: Object.fromEntries(Object.entries(minionFunctions).map(([k, f]) => [k, serialized(lock, f)])),
    orchestrates: {
      'metalk8s.orchestrate.solutions.import-components': serialized(lock, importComponents),
      'metalk8s.orchestrate.solutions.deploy-components': serialized(lock, deployComponents),
      'metalk8s.orchestrate.solutions.prepare-environment': serialized(lock, prepareEnvironment),
    },
    registryUrl,
    configPath,
    async stop() {
      await nginx.stop();
    },
  };
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

/**
 * The Solution side of the MetalK8s emulator, written from metalk8s-reference.md §1–§2 (and not
 * from the SDK's own renderers, so tests compare two independent readings of MetalK8s):
 *
 * - the bootstrap minion's `metalk8s_solutions.configure_archive` / `activate_solution` /
 *   `deactivate_solution` execution functions, over an emulated `/etc/metalk8s/solutions.yaml`
 *   kept in the state directory (§2.1; the files in `_solutions-files.ts`), and
 *   `saltutil.refresh_pillar`;
 * - the orchestrates `metalk8s.orchestrate.solutions.import-components` (§2.5),
 *   `deploy-components` (§2.6) and `prepare-environment` (§2.7–§2.9), in
 *   `_solutions-orchestrates.ts`;
 * - the `repositories` registry: real nginx serving every imported ISO's `images/` with the
 *   ISO's own `registry-config.inc.j2`, rendered as Salt renders it (§1.5), in
 *   `_solutions-registry.ts`.
 *
 * Calls run one at a time, as they change the bootstrap node's files whole. Written by hand:
 * this plays MetalK8s' Salt states, which no library does.
 */
import { statfs, readFile, writeFile, mkdir, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { applyObject, Discovery } from '../_kube.js';
import { DEFAULT_METALK8S_VERSION, metalk8sFeatures } from '../solution/metalk8s-version.js';
import { certManagerCrds } from './_environment-objects.js';
import { bootstrapFiles, CommandExecutionError } from './_solutions-files.js';
import { FIELD_MANAGER, solutionOrchestrates } from './_solutions-orchestrates.js';
import { startRepositoriesRegistry } from './_solutions-registry.js';
import type { EmulatedMinionFunction, OrchestrateHandler } from './salt-api-emulator.js';

type MinionFunction = EmulatedMinionFunction;

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
  const files = bootstrapFiles(state);
  const { configPath, srv, readConfig, writeConfig, readMounts, listAvailable, solutionNameOf } = files;
  const repoDir = join(state, 'repositories');
  const confD = join(repoDir, 'conf.d');
  await mkdir(srv, { recursive: true });
  await mkdir(confD, { recursive: true });
  await mkdir(dirname(configPath), { recursive: true });
  for (const d of [state, join(state, 'srv'), srv]) await chmod(d, 0o755);

  const registry = await startRepositoriesRegistry(repoDir, confD);
  const registryUrl = registry.url;
  const { importComponents, deployComponents, prepareEnvironment } = solutionOrchestrates({ kubeConfig: kc, discovery, files, confD, registry, features });

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
      await registry.stop();
    },
  };
}

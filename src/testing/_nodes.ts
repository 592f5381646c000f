/**
 * The emulator's node side (platform-reference.md §B.2): `metalk8s.orchestrate.deploy_node`
 * with MetalK8s' ordered state IDs (the first-time salt-ssh steps when the node's minion is not
 * up), a kwok "kubelet" started by the highstate, the default region/zone labels, cordon,
 * MetalK8s' own drain (1-second grace, evictions so PodDisruptionBudgets apply), uncordon; a
 * failure injectable at any named step; the wheel `key.*` functions over the emulated minion
 * keys; the bootstrap minion's `networks` pillar; the minion jobs deploy_node's `salt.state` and
 * `salt.function` steps publish on the node (their `salt/job/<jid>/new|ret` events, which
 * clients follow for live progress); and the etcd members (`Register the node
 * into etcd cluster` adds one), read and removed through `cmd.run_all` running
 * `crictl exec … etcdctl member list | member remove | endpoint health --cluster`.
 *
 * Host steps (packages, salt-minion, etcd, the highstate itself) have nothing to act on and say
 * so in their comment.
 */
import { CoreV1Api, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { EmulatedMinionFunction, EmulatedWheelFunction, OrchestrateContext, OrchestrateHandler, StepOutcome } from './salt-api-emulator.js';

const VERSION_LABEL = 'metalk8s.scality.com/version';
const KWOK_LABEL = 'kwok.x-k8s.io/node';
const ROLE = 'node-role.kubernetes.io/';

/** The `networks` pillar of the emulated cluster. */
export interface EmulatedNetworks {
  /** @default '127.0.0.0/8' (the emulated nodes are this machine) */
  readonly controlPlane?: string | readonly string[] | undefined;
  /** @default '127.0.0.0/8' */
  readonly workloadPlane?: string | readonly string[] | undefined;
  /** @default '10.96.0.0/12' */
  readonly service?: string | undefined;
  /** @default '10.233.0.0/16' */
  readonly pod?: string | undefined;
}

/** Options of the emulated node lifecycle. */
export interface NodesEmulatorOptions {
  readonly networks?: EmulatedNetworks | undefined;
  /**
   * Time each deploy_node step takes, so that a deploy can be watched (and joined) while it runs.
   * @default 0
   */
  readonly deployStepDelayMs?: number | undefined;
}

/** A failure to inject into the next deploy_node run. */
export interface InjectedFailure {
  /** State ID, e.g. `Run the highstate`. */
  readonly step: string;
  /** @default 'Injected failure' */
  readonly comment?: string | undefined;
  /** Only for this node. @default any */
  readonly node?: string | undefined;
}

/** Controls of the emulated node lifecycle. */
export interface EmulatedNodes {
  /** Makes the next deploy_node run (of `node`, if given) fail at `step`, once. */
  injectFailure(failure: InjectedFailure): void;
  /** Sets the time each deploy_node step takes. */
  setStepDelay(ms: number): void;
  /** Names of the etcd members, in the order they joined. */
  etcdMembers(): string[];
  /** Makes the etcd member of `node` report unhealthy (or healthy again). */
  setEtcdHealth(node: string, healthy: boolean): void;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function pointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function isReady(node: V1Node): boolean {
  return node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** What MetalK8s' node_drain evicts (DaemonSet, mirror and finished Pods stay; bare Pods go). */
function evictable(pod: V1Pod): boolean {
  const owners = pod.metadata?.ownerReferences ?? [];
  const daemonSet = owners.some((o) => o.kind === 'DaemonSet');
  const mirror = pod.metadata?.annotations?.['kubernetes.io/config.mirror'] !== undefined;
  const done = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  return !daemonSet && !mirror && !done;
}

function globMatch(pattern: string, id: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return re.test(id);
}

/** Builds the node lifecycle parts of the emulator. */
export function nodesEmulator(options: NodesEmulatorOptions = {}): {
  readonly deployNode: OrchestrateHandler;
  readonly minionFunctions: Readonly<Record<string, EmulatedMinionFunction>>;
  readonly wheelFunctions: Readonly<Record<string, EmulatedWheelFunction>>;
  readonly controls: EmulatedNodes;
} {
  const failures: InjectedFailure[] = [];
  let stepDelay = options.deployStepDelayMs ?? 0;
  const list = (v: string | readonly string[] | undefined, d: string): string | string[] => (v === undefined ? d : typeof v === 'string' ? v : [...v]);
  const networks = {
    control_plane: { cidr: list(options.networks?.controlPlane, '127.0.0.0/8') },
    workload_plane: { cidr: list(options.networks?.workloadPlane, '127.0.0.0/8') },
    service: options.networks?.service ?? '10.96.0.0/12',
    pod: options.networks?.pod ?? '10.233.0.0/16',
  };
  const pillar: Record<string, unknown> = { networks };
  const etcd = new Map<string, { id: string; healthy: boolean }>([['bootstrap', { id: '8e9e05c52164694d', healthy: true }]]);
  const etcdLine = (name: string, id: string): string => `${id}, started, ${name}, https://${name}:2380, https://${name}:2379, false`;
  /** What `crictl exec <etcd> etcdctl …` prints on an etcd node, for the commands the SDK runs. */
  const etcdctl = (command: string): { retcode: number; stdout: string; stderr: string } => {
    if (/\bmember list\b/.test(command)) return { retcode: 0, stdout: [...etcd].map(([n, m]) => etcdLine(n, m.id)).join('\n'), stderr: '' };
    if (/\bendpoint health\b.*--cluster/.test(command)) {
      const health = [...etcd].map(([n, m]) => ({ endpoint: `https://${n}:2379`, health: m.healthy, took: '1.2ms', ...(m.healthy ? {} : { error: 'context deadline exceeded' }) }));
      return { retcode: health.every((h) => h.health) ? 0 : 1, stdout: JSON.stringify(health), stderr: '' };
    }
    const remove = /\bmember remove ([0-9a-f]+)/.exec(command);
    if (remove) {
      const entry = [...etcd].find(([, m]) => m.id === remove[1]);
      if (!entry) return { retcode: 1, stdout: '', stderr: `Error: etcdserver: member not found` };
      etcd.delete(entry[0]);
      return { retcode: 0, stdout: `Member ${remove[1]} removed from cluster cdf818194e3a8c32`, stderr: '' };
    }
    return { retcode: 1, stdout: '', stderr: 'Error: unknown command (not emulated)' };
  };

  const minionFunctions: Record<string, EmulatedMinionFunction> = {
    'cmd.run_all': async ({ minion, arg, kwarg }) => {
      const command = String(arg[0] ?? kwarg.cmd ?? '');
      if (command.includes('etcdctl') && etcd.has(minion)) return { pid: 4242, ...etcdctl(command) };
      return { pid: 4242, retcode: 127, stdout: '', stderr: `/bin/sh: the emulator runs no host command (${command.split(' ')[0]})` };
    },
    'pillar.get': async ({ arg, kwarg }) => {
      const key = String(arg[0] ?? kwarg.key ?? '');
      let v: unknown = pillar;
      for (const part of key.split(':')) v = isRecord(v) ? v[part] : undefined;
      return v ?? arg[1] ?? kwarg.default ?? '';
    },
  };

  const matchOf = (fun: string, kwarg: Readonly<Record<string, unknown>>): string => {
    if (typeof kwarg.match !== 'string') throw new Error(`SaltInvocationError: ${fun.split('.')[1]} takes at least 1 argument (0 given)`);
    return kwarg.match;
  };
  const wheelFunctions: Record<string, EmulatedWheelFunction> = {
    'key.list_all': ({ minions }) => ({ minions: [...minions].sort(), minions_pre: [], minions_rejected: [], minions_denied: [], local: ['master.pem', 'master.pub'] }),
    'key.list': ({ kwarg, minions }) => {
      const which = matchOf('key.list', kwarg);
      if (['acc', 'accepted', 'all'].includes(which)) return { minions: [...minions].sort() };
      return { [which === 'pre' || which === 'un' || which === 'unaccepted' ? 'minions_pre' : `minions_${which}`]: [] };
    },
    // Keys waiting for acceptance exist only during a first-time deploy, which accepts them itself.
    'key.accept': ({ kwarg }) => {
      matchOf('key.accept', kwarg);
      return {};
    },
    // As Salt: what still matches after the deletion, so `{}`. The bootstrap key stays.
    'key.delete': ({ kwarg, minions }) => {
      const match = matchOf('key.delete', kwarg);
      for (const m of minions.filter((x) => x !== minions[0] && globMatch(match, x))) minions.splice(minions.indexOf(m), 1);
      return {};
    },
  };

  const deployNode: OrchestrateHandler = async (ctx: OrchestrateContext) => {
    const core = ctx.kubeConfig.makeApiClient(CoreV1Api);
    const orchestrate = isRecord(ctx.pillar.orchestrate) ? ctx.pillar.orchestrate : {};
    const nodeName = typeof orchestrate.node_name === 'string' ? orchestrate.node_name : '';
    if (!nodeName) throw new Error("Rendering SLS 'metalk8s.orchestrate.deploy_node' failed: Jinja variable 'dict object' has no attribute 'node_name'");
    const node = await core.readNode({ name: nodeName }).catch(() => undefined);
    if (!node) throw new Error(`Rendering SLS 'metalk8s.orchestrate.deploy_node' failed: Node ${nodeName} does not exist in Kubernetes (no pillar metalk8s:nodes:${nodeName})`);
    const version = node.metadata?.labels?.[VERSION_LABEL];
    if (!version) throw new Error(`Rendering SLS 'metalk8s.orchestrate.deploy_node' failed: Node ${nodeName} has no '${VERSION_LABEL}' label`);
    if (ctx.saltenv !== 'base' && ctx.saltenv !== `metalk8s-${version}`) {
      throw new Error(`saltenv ${ctx.saltenv} does not match the version ${version} of Node ${nodeName}: no such saltenv for its inner steps`);
    }
    const roles = Object.keys(node.metadata?.labels ?? {})
      .filter((k) => k.startsWith(ROLE))
      .map((k) => k.slice(ROLE.length));
    const skipDraining = orchestrate.skip_draining === true;
    const drainTimeout = typeof orchestrate.drain_timeout === 'number' && orchestrate.drain_timeout > 0 ? orchestrate.drain_timeout : 3600;
    const failIndex = failures.findIndex((f) => f.node === undefined || f.node === nodeName);
    const failure = failIndex >= 0 ? failures.splice(failIndex, 1)[0] : undefined;
    const saltenvInner = `metalk8s-${version}`;

    let previous: string | undefined;
    /** `job`: the minion job MetalK8s' step publishes (function and arguments), on the node. */
    const step = async (id: string, fun: string, run: () => Promise<StepOutcome>, job?: { fun: string; arg: unknown[]; everywhere?: boolean }): Promise<boolean> => {
      const require = previous ? [previous] : [];
      previous = id;
      return ctx.step(
        id,
        fun,
        async () => {
          const done = job
            ? ctx.minionJob({ fun: job.fun, arg: job.arg, tgt: job.everywhere ? '*' : nodeName, minions: job.everywhere ? [...ctx.minions, nodeName].filter((m, i, a) => a.indexOf(m) === i) : [nodeName] })
            : undefined;
          if (stepDelay > 0) await sleep(stepDelay);
          const outcome = failure?.step === id ? { result: false, comment: failure.comment ?? 'Injected failure' } : await run();
          done?.(outcome.result);
          return outcome;
        },
        { require, name: id === 'Run the highstate' || id.startsWith('Wait') ? nodeName : undefined },
      );
    };
    const host = (what: string) => async (): Promise<StepOutcome> => ({ result: true, comment: `Emulated: ${what} (no host to act on)` });
    const setUnschedulable = async (value: boolean): Promise<StepOutcome> => {
      const current = await core.readNode({ name: nodeName });
      if ((current.spec?.unschedulable === true) === value) return { result: true, comment: `Node ${nodeName} already ${value ? 'cordoned' : 'uncordoned'}` };
      await core.patchNode({ name: nodeName, body: [{ op: 'add', path: '/spec/unschedulable', value }] });
      return { result: true, comment: `Node ${nodeName} ${value ? 'cordoned' : 'uncordoned'}`, changes: { unschedulable: value } };
    };

    if (!ctx.minions.includes(nodeName)) {
      await step('Install python36', 'salt.function', host('python3 installed over salt-ssh'));
      await step('Set grains ssh', 'salt.state', host(`metalk8s.node.grains applied over salt-ssh (saltenv ${saltenvInner})`));
      await step('Refresh grains', 'salt.function', host('saltutil.sync_grains over salt-ssh'));
      await step('Check node', 'salt.function', host('metalk8s_checks.node passed'));
      await step('Deploy salt-minion on a new node', 'salt.state', host('metalk8s.roles.minion applied over salt-ssh'));
      await step('Accept key', 'module.run', async () => {
        ctx.acceptMinion(nodeName);
        return { result: true, comment: `Key of minion ${nodeName} accepted`, changes: { accepted: nodeName } };
      });
      await step('Wait minion available ssh', 'salt.runner', async () => ({ result: true, comment: `Minion ${nodeName} answers` }));
    }
    await step('Sync module on the node', 'salt.function', host(`saltutil.sync_all saltenv=${saltenvInner}`), { fun: 'saltutil.sync_all', arg: [`saltenv=${saltenvInner}`] });
    await step('Set grains', 'salt.state', host('metalk8s.node.grains applied'), { fun: 'state.sls', arg: ['metalk8s.node.grains', `saltenv=${saltenvInner}`] });
    await step('Refresh the mine', 'salt.function', host("mine.update on '*'"), { fun: 'mine.update', arg: [], everywhere: true });
    await step('Ensure node default labels exist', 'metalk8s_kubernetes.object_updated', async () => {
      const current = await core.readNode({ name: nodeName });
      const labels = current.metadata?.labels ?? {};
      const wanted = { 'topology.kubernetes.io/region': 'default', 'topology.kubernetes.io/zone': 'default' };
      const ops = Object.entries(wanted)
        .filter(([k]) => labels[k] === undefined)
        .map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${pointer(k)}`, value: v }));
      if (ops.length > 0) await core.patchNode({ name: nodeName, body: ops });
      return { result: true, comment: ops.length > 0 ? 'Labels set' : 'Labels already set', changes: ops.length > 0 ? { labels: wanted } : {} };
    });
    await step('Cordon the node', 'metalk8s_cordon.node_cordoned', () => setUnschedulable(true));
    await step('Drain the node', 'metalk8s_drain.node_drained', async (): Promise<StepOutcome> => {
      if (skipDraining) return { result: true, comment: 'Draining skipped (skip_draining)' };
      const deadline = Date.now() + drainTimeout * 1000;
      const evicted = new Set<string>();
      for (;;) {
        const pods = (await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` })).items.filter(evictable);
        if (pods.length === 0) {
          return { result: true, comment: `Eviction complete: ${evicted.size} pod(s) evicted`, changes: { evicted: [...evicted].sort() } };
        }
        for (const pod of pods) {
          const name = pod.metadata?.name ?? '';
          const namespace = pod.metadata?.namespace ?? '';
          if (pod.metadata?.deletionTimestamp) continue;
          try {
            await core.createNamespacedPodEviction({
              name,
              namespace,
              // MetalK8s' node_drain default: 1 second, whatever the Pod asks for.
              body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace }, deleteOptions: { gracePeriodSeconds: 1 } },
            });
            evicted.add(`${namespace}/${name}`);
          } catch (err) {
            // 429: a PodDisruptionBudget forbids it for now; retried until the timeout.
            if ((err as { code?: number }).code !== 429 && (err as { code?: number }).code !== 404) throw err;
          }
        }
        if (Date.now() > deadline) {
          return { result: false, comment: `Drain of ${nodeName} timed out; ${pods.length} pod(s) left: ${pods.map((p) => p.metadata?.name).join(', ')}` };
        }
        await sleep(250);
      }
    });
    await step('Check pillar before salt-minion configuration', 'metalk8s.check_pillar_keys', async () => ({ result: true, comment: 'Pillar keys metalk8s.endpoints.salt-master, metalk8s.endpoints.repositories present' }));
    await step('Reconfigure salt-minion', 'salt.state', host('metalk8s.salt.minion.configured applied'), { fun: 'state.sls', arg: ['metalk8s.salt.minion.configured', `saltenv=${saltenvInner}`] });
    await step('Wait minion available', 'salt.runner', async () => ({ result: true, comment: `Minion ${nodeName} answers` }));
    if (roles.includes('etcd')) {
      await step('Check pillar before etcd deployment', 'metalk8s.check_pillar_keys', async () => ({ result: true, comment: 'Pillar keys present' }));
      await step('Install etcd node', 'salt.state', host('metalk8s.roles.etcd applied'), { fun: 'state.sls', arg: ['metalk8s.roles.etcd', `saltenv=${saltenvInner}`] });
      await step('Register the node into etcd cluster', 'salt.runner', async () => {
        if (etcd.has(nodeName)) return { result: true, comment: `etcd member ${nodeName} already present` };
        etcd.set(nodeName, { id: [...Array(16)].map(() => Math.floor(Math.random() * 16).toString(16)).join(''), healthy: true });
        return { result: true, comment: `etcd member ${nodeName} added (peer https://${nodeName}:2380)`, changes: { member: nodeName } };
      });
    }
    await step('Wait for API server to be available before highstate', 'http.wait_for_successful_query', async () => ({ result: true, comment: 'https://127.0.0.1:7443/healthz: ok' }));
    await step('Check pillar before highstate', 'metalk8s.check_pillar_keys', async () => ({ result: true, comment: 'Pillar keys present' }));
    await step('Run the highstate', 'salt.state', async (): Promise<StepOutcome> => {
      // The highstate installs and starts the kubelet: kwok plays it from here on.
      const current = await core.readNode({ name: nodeName });
      const labels = current.metadata?.labels;
      let started = false;
      if (labels?.[KWOK_LABEL] !== 'fake') {
        const op = labels
          ? { op: 'add', path: `/metadata/labels/${pointer(KWOK_LABEL)}`, value: 'fake' }
          : { op: 'add', path: '/metadata/labels', value: { [KWOK_LABEL]: 'fake' } };
        await core.patchNode({ name: nodeName, body: [op] });
        started = true;
      }
      const deadline = Date.now() + 60_000;
      while (Date.now() < deadline) {
        if (isReady(await core.readNode({ name: nodeName }))) {
          return { result: true, comment: `Highstate applied (emulated); kubelet of ${nodeName} Ready`, changes: started ? { kubelet: 'started' } : {} };
        }
        await sleep(250);
      }
      return { result: false, comment: `kubelet of ${nodeName} did not become Ready within 60 s` };
    }, { fun: 'state.highstate', arg: [`saltenv=${saltenvInner}`] });
    await step('Wait for API server to be available', 'http.wait_for_successful_query', async () => ({ result: true, comment: 'https://127.0.0.1:7443/healthz: ok' }));
    await step('Uncordon the node', 'metalk8s_cordon.node_uncordoned', () => setUnschedulable(false));
    await step('Kill kube-controller-manager on all master nodes', 'salt.function', host('ps.pkill kube-controller-manager on the masters'));
    if (roles.includes('infra')) await step('Restart CoreDNS pods', 'module.run', host('rollout restart of Deployment coredns'));
    if (roles.includes('master')) await step('Reconfigure Control Plane Ingress', 'salt.runner', host('metalk8s.addons.nginx-ingress-control-plane.deployed'));
  };

  return {
    deployNode,
    minionFunctions,
    wheelFunctions,
    controls: {
      injectFailure: (f) => {
        failures.push(f);
      },
      setStepDelay: (ms) => {
        stepDelay = ms;
      },
      etcdMembers: () => [...etcd.keys()],
      setEtcdHealth: (node, healthy) => {
        const m = etcd.get(node);
        if (m) m.healthy = healthy;
      },
    },
  };
}

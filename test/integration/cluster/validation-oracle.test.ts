/**
 * The oracle of the conformance corpus (test/fixtures/solution/corpus.ts): every case is
 * rendered, even when `validateSolution` refuses it, and given to the real tools. The rendered
 * CRDs, platform objects and the objects `renderEnvironment` predicts go to the kube-apiserver of
 * the test control plane with a server-side dry run; the rendered rule groups go to
 * `promtool check rules`. The test asserts that each case's oracle claim holds (the tool named
 * refuses it; runtime and MetalK8s cases pass both tools, so only the SDK catches them), that
 * every case a real tool refuses gets an error from `validateSolution`, and that every tricky
 * valid case passes the tools and the SDK alike.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Discovery, kubeRequest } from '../../../src/_kube.js';
import type { Issue } from '../../../src/errors.js';
import { type CrdInfo, type KubernetesObject, render, renderEnvironment, type Solution, SolutionSchema, validateSolution } from '../../../src/index.js';
import { buildCrd } from '../../../src/solution/crd.js';
import { applyObjects, uniqueSuffix } from '../../../src/testing/index.js';
import { baseSolution } from '../../fixtures/solution/base.js';
import { askKubernetes, type K8sQuestion, k8sRulesBinary } from '../../setup/k8s-rules.js';
import { type BrokenCase, brokenCases, type ValidCase, validCases } from '../../fixtures/solution/corpus.js';

const kc = new KubeConfig();
kc.loadFromFile(inject('kubeconfigPath'));
const discovery = new Discovery(kc);
const namespace = `oracle-${uniqueSuffix()}`;
const dir = mkdtempSync(join(tmpdir(), 'oracle-'));
const dec = new TextDecoder();

function promtool(): string {
  const found = spawnSync('sh', ['-c', 'command -v promtool'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('promtool is not installed: install Debian\'s "prometheus" package (.ci/run does).');
  return found;
}

/** The solution as render() would get it, skipping the SDK's own semantic checks (the tools judge). */
function forceSolution(input: Record<string, unknown>): Solution {
  const parsed = SolutionSchema.safeParse(input);
  if (!parsed.success) throw new Error(`the corpus case does not even have the solution's shape: ${parsed.error.message}`);
  const def = parsed.data;
  const ignored: Issue[] = [];
  const crds = (def.crds ?? []).map((c, i) => buildCrd(c, `crds[${i}]`, ignored)).filter((c): c is CrdInfo => c !== undefined);
  return { name: def.name, version: def.version, id: `${def.name}-${def.version}`, displayName: def.displayName ?? def.name, definition: def, crds, warnings: [] };
}

interface Verdict {
  readonly kubeApiserver: string[];
  readonly promtool: string[];
}

async function dryRun(obj: KubernetesObject): Promise<string | undefined> {
  const where = await discovery.path(obj);
  if (!where) return `the API server does not serve ${obj.kind} in ${obj.apiVersion}`;
  const res = await kubeRequest(kc, 'PATCH', `${where}?fieldManager=oracle&force=true&dryRun=All`, obj, 'application/apply-patch+yaml');
  if (res.status >= 200 && res.status < 300) return undefined;
  return `${obj.kind} ${obj.metadata.name}: ${(res.json as { message?: string } | undefined)?.message ?? res.text.slice(0, 300)}`;
}

async function judge(mutate: (s: Record<string, any>) => void): Promise<Verdict> {
  const input = baseSolution();
  mutate(input);
  const solution = forceSolution(input);
  const { files } = render(solution);
  const docs = (p: string) => parseAllDocuments(dec.decode(files.get(p))).map((d) => d.toJS() as KubernetesObject);
  const crds = [...files.keys()].filter((p) => p.endsWith('_crd.yaml')).flatMap(docs);
  const platform = [...files.keys()].filter((p) => p.startsWith('platform/')).flatMap(docs);
  const env = renderEnvironment(solution, { namespace }).objects.filter((o) => !o.apiVersion.startsWith('cert-manager.io/'));
  // A CRD manifest the SDK cannot render (another apiVersion) goes to the API server as written.
  const raw = ((input.crds ?? []) as { manifest?: KubernetesObject }[]).flatMap((c) => (c.manifest && c.manifest.apiVersion !== 'apiextensions.k8s.io/v1' ? [c.manifest] : []));
  const kubeApiserver: string[] = [];
  for (const obj of [...raw, ...crds, ...platform, ...env]) {
    const refused = await dryRun(obj);
    if (refused) kubeApiserver.push(refused);
  }
  const out: string[] = [];
  const rules = platform.find((o) => o.kind === 'PrometheusRule');
  if (rules) {
    const file = join(dir, `rules-${uniqueSuffix()}.yaml`);
    writeFileSync(file, JSON.stringify({ groups: (rules.spec as { groups: unknown }).groups }));
    const r = spawnSync(promtool(), ['check', 'rules', file], { encoding: 'utf8' });
    if (r.status !== 0) out.push(`${r.stdout}${r.stderr}`.trim().split('\n').slice(-1)[0] ?? 'refused');
  }
  return { kubeApiserver, promtool: out };
}

function sdkErrors(mutate: (s: Record<string, any>) => void): Issue[] {
  const s = baseSolution();
  mutate(s);
  return validateSolution(s).issues.filter((i) => i.severity === 'error');
}

beforeAll(async () => {
  const res = await kubeRequest(kc, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } });
  if (res.status !== 201) throw new Error(`cannot create namespace ${namespace}: ${res.text}`);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await kubeRequest(kc, 'DELETE', `/api/v1/namespaces/${namespace}`);
});

describe('the corpus oracle: real kube-apiserver and promtool', () => {
  it('the base solution passes both tools', async () => {
    expect(await judge(() => {})).toEqual({ kubeApiserver: [], promtool: [] });
  });

  it.each(brokenCases.filter((c) => c.oracle === 'kube-apiserver' || c.oracle === 'promtool'))('$id: $oracle refuses it, and so does validate', async (c: BrokenCase) => {
    const v = await judge(c.mutate);
    const refusals = c.oracle === 'kube-apiserver' ? v.kubeApiserver : v.promtool;
    expect(refusals, `the ${c.oracle} accepted ${c.id}`).not.toEqual([]);
    if (!c.gap) expect(sdkErrors(c.mutate).map((i) => i.code), refusals.join('\n')).toContain(c.code);
  });

  // Fields the model no longer has (operator args, env, resources) cannot be rendered: those cases
  // rest on MetalK8s replacing the Deployment, and the unit corpus checks their refusal.
  it.each(brokenCases.filter((c) => (c.oracle === 'metalk8s' || c.oracle === 'runtime') && c.code !== 'OPERATOR_OVERRIDE_UNSUPPORTED'))('$id: both tools accept it ($oracle), only the SDK catches it', async (c: BrokenCase) => {
    expect(await judge(c.mutate)).toEqual({ kubeApiserver: [], promtool: [] });
    const s = baseSolution();
    c.mutate(s);
    expect(validateSolution(s).issues.map((i) => i.code)).toContain(c.code);
  });

  it.each(validCases)('$id: valid for both tools and for validate', async (c: ValidCase) => {
    expect(await judge(c.mutate)).toEqual({ kubeApiserver: [], promtool: [] });
    expect(sdkErrors(c.mutate)).toEqual([]);
  });
});

/** What Kubernetes' own code (apimachinery v0.29, MetalK8s 129's) is asked about a case. */
function questionsOf(mutate: (s: Record<string, any>) => void): K8sQuestion[] {
  const s = baseSolution();
  mutate(s);
  const monitors = [...(s.serviceMonitors ?? []), ...(s.podMonitors ?? [])] as { selector: unknown }[];
  return [
    ...monitors.map((m) => ({ kind: 'selector' as const, selector: m.selector })),
    ...Object.entries((s.labels ?? {}) as Record<string, string>).flatMap(([k, v]) => [{ kind: 'labelKey' as const, value: k }, { kind: 'labelValue' as const, value: v }]),
  ];
}

describe("the corpus oracle: Kubernetes' own validation code (LabelSelectorAsSelector; apimachinery v0.29)", () => {
  beforeAll(() => {
    k8sRulesBinary();
  }, 20 * 60_000);

  const byCode = (codes: string[]) => brokenCases.filter((c) => codes.includes(c.code));
  it.each(byCode(['SELECTOR_VALUES_MISSING', 'SELECTOR_VALUES_FORBIDDEN', 'SELECTOR_VALUE_INVALID', 'SELECTOR_KEY_INVALID']))(
    '$id: Kubernetes refuses it ($code)',
    (c: BrokenCase) => {
      const answers = askKubernetes(questionsOf(c.mutate));
      expect(answers.filter((a) => a !== ''), `Kubernetes accepted ${c.id}`).not.toEqual([]);
    },
  );

  it.each(validCases.filter((c) => ['selectors-expressions', 'monitors-pod-and-service', 'labels-and-rules-mixed'].includes(c.id)))('$id: Kubernetes accepts it', (c: ValidCase) => {
    const questions = questionsOf(c.mutate);
    expect(questions.length).toBeGreaterThan(0);
    expect(askKubernetes(questions)).toEqual(questions.map(() => ''));
  });
});

/** The access each RBAC case meant to grant, asked of the real authorizer for the operator's ServiceAccount. */
const MEANT: Record<string, { verb: string; group?: string; resource?: string; cluster?: boolean; path?: string }> = {
  'rbac-cluster-volumes': { verb: 'get', group: 'storage.metalk8s.scality.com', resource: 'volumes', cluster: true },
  'rbac-cluster-nodes': { verb: 'get', group: '', resource: 'nodes', cluster: true },
  'rbac-cluster-storageclasses': { verb: 'list', group: 'storage.k8s.io', resource: 'storageclasses', cluster: true },
  'rbac-cluster-non-resource': { verb: 'get', path: '/metrics' },
  'rbac-unknown-verb': { verb: 'get', group: 'acme.example.com', resource: 'stores' },
  'rbac-resource-kind': { verb: 'get', group: 'acme.example.com', resource: 'stores' },
  'rbac-api-group-with-version': { verb: 'get', group: 'apps', resource: 'deployments' },
  'rbac-own-crd-not-granted': { verb: 'list', group: 'acme.example.com', resource: 'stores' },
  'rbac-cluster-crd-namespaced-rule': { verb: 'get', group: 'acme.example.com', resource: 'stores', cluster: true },
};

describe('the corpus oracle: RBAC as the real authorizer sees it, bound the way MetalK8s binds it', () => {
  const made: KubernetesObject[] = [];
  afterAll(async () => {
    for (const o of made.reverse()) {
      const where = await discovery.path(o);
      if (where) await kubeRequest(kc, 'DELETE', where);
    }
  });

  /** Applies what renderEnvironment predicts (Role, ClusterRole, their RoleBindings, the ServiceAccount) for real, then asks a SubjectAccessReview. */
  async function allowed(mutate: (s: Record<string, any>) => void, n: number, meant: (typeof MEANT)[string]): Promise<boolean> {
    const input = baseSolution();
    mutate(input);
    input.version = `1.2.0-rbac${n}`;
    input.images[0].tag = input.version;
    const ns = `oracle-rbac-${uniqueSuffix()}`;
    const nsObj = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } as KubernetesObject;
    const objects = renderEnvironment(forceSolution(input), { namespace: ns }).objects.filter((o) => ['ServiceAccount', 'Role', 'ClusterRole', 'RoleBinding'].includes(o.kind));
    await applyObjects(kc, [nsObj, ...objects]);
    made.push(nsObj, ...objects.filter((o) => o.kind === 'ClusterRole'));
    const spec = {
      user: `system:serviceaccount:${ns}:acme-operator`,
      groups: ['system:serviceaccounts', `system:serviceaccounts:${ns}`, 'system:authenticated'],
      ...(meant.path
        ? { nonResourceAttributes: { path: meant.path, verb: meant.verb } }
        : { resourceAttributes: { verb: meant.verb, group: meant.group, resource: meant.resource, ...(meant.cluster ? {} : { namespace: ns }) } }),
    };
    const res = await kubeRequest(kc, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec });
    if (res.status !== 201) throw new Error(`SubjectAccessReview failed: ${res.text}`);
    return (res.json as { status: { allowed: boolean } }).status.allowed;
  }

  it('every RBAC case that only breaks at run time is put to the authorizer', () => {
    expect(brokenCases.filter((c) => c.class === 'RBAC' && (c.oracle === 'runtime' || c.oracle === 'metalk8s')).map((c) => c.id).sort()).toEqual(Object.keys(MEANT).sort());
  });

  it('control: the base solution\'s operator may watch its own Stores in its namespace', async () => {
    expect(await allowed(() => {}, 0, { verb: 'watch', group: 'acme.example.com', resource: 'stores' })).toBe(true);
  });

  it.each(brokenCases.filter((c) => c.id in MEANT).map((c, i) => ({ ...c, n: i + 1 })))('$id: the access it meant to grant is denied', async (c) => {
    expect(await allowed(c.mutate, c.n, MEANT[c.id]!)).toBe(false);
  });
});

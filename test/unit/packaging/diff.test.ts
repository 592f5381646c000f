import { describe, expect, it } from 'vitest';
import { type Change, diffContents } from '../../../src/packaging/diff.js';
import { render } from '../../../src/solution/render.js';
import { validateSolution } from '../../../src/solution/validate.js';
import { baseSolution } from '../../fixtures/solution/base.js';

type Def = ReturnType<typeof baseSolution>;

function filesOf(def: Def, extra: Record<string, string> = {}): Map<string, Uint8Array> {
  const r = validateSolution(def);
  if (!r.solution) throw new Error(JSON.stringify(r.issues));
  const files = new Map(render(r.solution, { buildTimestamp: new Date(0) }).files);
  for (const [p, t] of Object.entries(extra)) files.set(p, new TextEncoder().encode(t));
  return files;
}

/** Diff of the base solution against a mutated copy. */
function changesAfter(mutate: (d: Def) => void): Change[] {
  const next = baseSolution();
  mutate(next);
  return [...diffContents({ files: filesOf(baseSolution()) }, { files: filesOf(next) }).changes];
}

const brief = (cs: readonly Change[]) => cs.map((c) => `${c.breaking ? 'BREAKING ' : ''}${c.category} ${c.action} ${c.subject}`);
const specOf = (d: Def) => d.crds[0].versions[0].openAPIV3Schema.properties.spec;

describe('diffContents', () => {
  it('finds nothing between identical archives', () => {
    const r = diffContents({ files: filesOf(baseSolution()) }, { files: filesOf(baseSolution()) });
    expect(r.changes).toEqual([]);
    expect(r.breaking).toBe(0);
  });

  it('a CRD field that became required is breaking; one that became optional is not', () => {
    expect(brief(changesAfter((d) => (specOf(d).required = ['replicas'])))).toEqual(['BREAKING crd changed stores.acme.example.com v1 spec.replicas']);
    const back = diffContents(
      { files: filesOf((() => { const d = baseSolution(); specOf(d).required = ['replicas']; return d; })()) },
      { files: filesOf(baseSolution()) },
    );
    expect(brief(back.changes)).toEqual(['crd changed stores.acme.example.com v1 spec.replicas']);
    expect(back.changes[0]!.message).toContain('is now optional');
  });

  it('a field that changed type is breaking', () => {
    const cs = changesAfter((d) => (specOf(d).properties.replicas = { type: 'string' }));
    expect(brief(cs)).toEqual(['BREAKING crd changed stores.acme.example.com v1 spec.replicas']);
    expect(cs[0]!.message).toBe('field spec.replicas of stores.acme.example.com v1 changed type integer → string');
  });

  it('an optional new field is not breaking, a required one is; a removed field is, once (not its children)', () => {
    expect(brief(changesAfter((d) => (specOf(d).properties.size = { type: 'string' })))).toEqual(['crd added stores.acme.example.com v1 spec.size']);
    expect(
      brief(
        changesAfter((d) => {
          specOf(d).properties.size = { type: 'string' };
          specOf(d).required = ['size'];
        }),
      ),
    ).toEqual(['BREAKING crd added stores.acme.example.com v1 spec.size']);
    const nested = baseSolution();
    specOf(nested).properties.tls = { type: 'object', properties: { secret: { type: 'string' }, ca: { type: 'string' } } };
    const r = diffContents({ files: filesOf(nested) }, { files: filesOf(baseSolution()) });
    expect(brief(r.changes)).toEqual(['BREAKING crd removed stores.acme.example.com v1 spec.tls']);
  });

  it('narrowing an enum is breaking, widening it is not', () => {
    const wide = baseSolution();
    specOf(wide).properties.tier = { type: 'string', enum: ['gold', 'silver'] };
    const narrow = baseSolution();
    specOf(narrow).properties.tier = { type: 'string', enum: ['gold'] };
    const down = diffContents({ files: filesOf(wide) }, { files: filesOf(narrow) });
    expect(brief(down.changes)).toEqual(['BREAKING crd changed stores.acme.example.com v1 spec.tier']);
    expect(down.changes[0]!.message).toContain('no longer accepts silver');
    const up = diffContents({ files: filesOf(narrow) }, { files: filesOf(wide) });
    expect(brief(up.changes)).toEqual(['crd changed stores.acme.example.com v1 spec.tier']);
  });

  it('a removed CRD version and a removed CRD are breaking; added ones are not', () => {
    const two = baseSolution();
    two.crds[0].versions = [
      { ...two.crds[0].versions[0], storage: true },
      { name: 'v2', served: true, storage: false, openAPIV3Schema: two.crds[0].versions[0].openAPIV3Schema },
    ];
    expect(brief(diffContents({ files: filesOf(baseSolution()) }, { files: filesOf(two) }).changes)).toEqual(['crd added stores.acme.example.com v2']);
    expect(brief(diffContents({ files: filesOf(two) }, { files: filesOf(baseSolution()) }).changes)).toEqual(['BREAKING crd removed stores.acme.example.com v2']);
    const none = baseSolution();
    none.crds = [];
    none.operator.permissions.namespaced = [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }];
    const gone = diffContents({ files: filesOf(baseSolution()) }, { files: filesOf(none) });
    expect(brief(gone.changes.filter((c) => c.category === 'crd'))).toEqual(['BREAKING crd removed stores.acme.example.com']);
  });

  it('a StorageClass parameter change is breaking (parameters are immutable); mount options are not', () => {
    const cs = changesAfter((d) => {
      d.storageClasses[0].fsType = 'ext4';
      d.storageClasses[0].mountOptions = ['rw'];
    });
    expect(brief(cs)).toEqual(['BREAKING storageclass changed acme-data parameters.fsType', 'storageclass changed acme-data mountOptions']);
  });

  it('operator permissions: rules gained and lost, ClusterRoles matched across versions', () => {
    const cs = changesAfter((d) => {
      d.version = '1.3.0';
      d.images[0].tag = '1.3.0';
      d.operator.permissions.cluster = [{ apiGroups: [''], resources: ['events'], verbs: ['create', 'patch', 'update'] }];
      d.operator.permissions.namespaced = [];
    });
    const perms = cs.filter((c) => c.category === 'permission').map((c) => c.message);
    expect(perms).toEqual(['ClusterRole <id>-operator gains update core/events', 'Role acme-operator removed']);
  });

  it('alerts, dashboards and monitors: added, removed, changed', () => {
    const cs = changesAfter((d) => {
      d.alerts[0].rules[0].expr = 'up{job="acme"} < 1';
      d.alerts[0].rules.push({ alert: 'AcmeSlow', expr: 'acme_latency_seconds > 1', labels: { severity: 'warning' }, annotations: { summary: 'Acme is slow' } });
      d.dashboards[0].dashboard.panels = [{ id: 1, type: 'stat', title: 'Up' }];
      d.serviceMonitors = [];
    });
    expect(brief(cs)).toEqual([
      'alert changed acme/AcmeDown',
      'alert added acme/AcmeSlow',
      'dashboard changed acme-dashboard-acme-overview',
      'monitor removed ServiceMonitor acme-store',
    ]);
    expect(cs.find((c) => c.subject === 'acme/AcmeDown')!.message).toBe('alert acme/AcmeDown: expr up{job="acme"} == 0 → up{job="acme"} < 1');
  });

  it('images: a new tag, a new image, and new content under the same tag', () => {
    const m = (n: number) => JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', n });
    const before = filesOf(baseSolution(), { 'images/acme-operator/1.2.0/manifest.json': m(1), 'images/acme-store/1.2.0/manifest.json': m(2) });
    const after = filesOf(baseSolution(), { 'images/acme-operator/1.3.0/manifest.json': m(3), 'images/acme-store/1.2.0/manifest.json': m(4), 'images/redis/7.2/manifest.json': m(5) });
    const r = diffContents({ files: before }, { files: after });
    expect(brief(r.changes)).toEqual(['image changed acme-operator', 'image changed acme-store:1.2.0', 'image added redis:7.2']);
    expect(r.changes[0]!.message).toMatch(/^image acme-operator 1\.2\.0 → 1\.3\.0 \(sha256:[0-9a-f]{64}\)$/);
    expect(r.changes[1]!.message).toContain('new content under the same tag');
  });
});

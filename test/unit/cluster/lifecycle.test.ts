import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { compareVersions } from '../../../src/index.js';
import { type ArchiveContents, crdChanges } from '../../../src/packaging/index.js';

/** An archive whose only file is this CRD (or no CRD at all). */
const archive = (...crds: object[]): ArchiveContents => ({
  files: new Map(crds.map((c, i) => [`operator/deploy/crds/crd${i}_crd.yaml`, new TextEncoder().encode(stringify(c))])),
});
/** The breaking CRD changes the upgrade warns about, as it words them. */
const breakingCrdChanges = (before: ArchiveContents, after: ArchiveContents): string[] =>
  crdChanges(before, after)
    .filter((c) => c.breaking)
    .map((c) => c.message);

const crd = (versions: { name: string; served?: boolean; fields: string[] }[]) => ({
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'zenkos.zenko.io' },
  spec: {
    versions: versions.map((v) => ({
      name: v.name,
      served: v.served ?? true,
      schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: Object.fromEntries(v.fields.map((f) => [f, { type: 'string' }])) } } } },
    })),
  },
});

describe('compareVersions (how "latest" is resolved)', () => {
  it('orders numeric parts numerically, not as text', () => {
    expect(['1.10.0', '1.9.0', '1.2.3', '2.0.0'].sort(compareVersions)).toEqual(['1.2.3', '1.9.0', '1.10.0', '2.0.0']);
    expect(compareVersions('2.6.0', '2.6.0')).toBe(0);
    expect(compareVersions('2.6.0', '2.6')).toBeGreaterThan(0);
  });
});

describe('crdChanges, breaking ones (the upgrade warning)', () => {
  it('says nothing when the new version only adds', () => {
    expect(breakingCrdChanges(archive(crd([{ name: 'v1', fields: ['a'] }])), archive(crd([{ name: 'v1', fields: ['a', 'b'] }, { name: 'v2', fields: ['a'] }])))).toEqual([]);
  });

  it('names removed CRDs, versions no longer served and removed fields', () => {
    expect(breakingCrdChanges(archive(crd([{ name: 'v1', fields: ['a', 'b'] }])), archive(crd([{ name: 'v1', fields: ['a'] }])))).toEqual([
      'field spec.b of zenkos.zenko.io v1 removed: existing objects that set it lose it (or are rejected)',
    ]);
    expect(breakingCrdChanges(archive(crd([{ name: 'v1', fields: [] }])), archive(crd([{ name: 'v1', served: false, fields: [] }, { name: 'v2', fields: [] }])))).toEqual([
      'zenkos.zenko.io version v1 is no longer served: clients and stored objects using it break',
    ]);
    expect(breakingCrdChanges(archive(crd([{ name: 'v1', fields: [] }])), archive())).toEqual([
      'CRD zenkos.zenko.io removed: deleting a CRD deletes every object of its kind',
    ]);
  });

  it('also warns of what the old check missed: a field that changed type or became required', () => {
    const typed = crd([{ name: 'v1', fields: ['a'] }]);
    const changed = structuredClone(typed);
    const spec = changed.spec.versions[0]!.schema.openAPIV3Schema.properties.spec as { properties: Record<string, { type: string }>; required?: string[] };
    spec.properties.a = { type: 'integer' };
    spec.required = ['a'];
    expect(breakingCrdChanges(archive(typed), archive(changed))).toEqual([
      'field spec.a of zenkos.zenko.io v1 changed type string → integer',
      'field spec.a of zenkos.zenko.io v1 became required: existing objects without it become invalid',
    ]);
  });
});

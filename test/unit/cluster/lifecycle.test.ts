import { describe, expect, it } from 'vitest';
import { breakingCrdChanges, type CrdLike } from '../../../src/cluster/_crd-changes.js';
import { compareVersions } from '../../../src/cluster/index.js';

const crd = (versions: { name: string; served?: boolean; fields: string[] }[]): CrdLike => ({
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

describe('breakingCrdChanges (the upgrade warning)', () => {
  it('says nothing when the new version only adds', () => {
    expect(breakingCrdChanges([crd([{ name: 'v1', fields: ['a'] }])], [crd([{ name: 'v1', fields: ['a', 'b'] }, { name: 'v2', fields: ['a'] }])])).toEqual([]);
  });

  it('names removed CRDs, versions no longer served and removed fields', () => {
    expect(breakingCrdChanges([crd([{ name: 'v1', fields: ['a', 'b'] }])], [crd([{ name: 'v1', fields: ['a'] }])])).toEqual([
      'zenkos.zenko.io v1: field spec.b is removed',
    ]);
    expect(breakingCrdChanges([crd([{ name: 'v1', fields: [] }])], [crd([{ name: 'v1', served: false, fields: [] }, { name: 'v2', fields: [] }])])).toEqual([
      'zenkos.zenko.io: API version v1 is no longer served',
    ]);
    expect(breakingCrdChanges([crd([{ name: 'v1', fields: [] }])], [])).toEqual([
      'CRD zenkos.zenko.io is removed: its custom resources would be lost when the new version is activated',
    ]);
  });
});

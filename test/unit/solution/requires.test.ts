import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { defineSolution, render } from '../../../src/index.js';
import { REQUIRES_METALK8S_ANNOTATION } from '../../../src/solution/render.js';
import { satisfiesRange } from '../../../src/solution/_version-range.js';
import { ValidationError } from '../../../src/errors.js';

const base = {
  name: 'acme',
  version: '1.0.0',
  operator: { image: 'acme-operator' },
  images: [{ name: 'acme-operator', tag: '1.0.0', source: { kind: 'registry', reference: 'docker.io/library/busybox:1.36' } }],
} as const;

describe('requires.metalk8s', () => {
  it('is written into the manifest annotations', () => {
    const s = defineSolution({ ...base, requires: { metalk8s: '>=128.0.0 <131' } });
    const manifest = parse(Buffer.from(render(s).files.get('manifest.yaml') ?? new Uint8Array()).toString('utf8')) as { metadata: { annotations: Record<string, string> } };
    expect(manifest.metadata.annotations[REQUIRES_METALK8S_ANNOTATION]).toBe('>=128.0.0 <131');
    const none = parse(Buffer.from(render(defineSolution(base)).files.get('manifest.yaml') ?? new Uint8Array()).toString('utf8')) as { metadata: { annotations: Record<string, string> } };
    expect(none.metadata.annotations[REQUIRES_METALK8S_ANNOTATION]).toBeUndefined();
  });

  it('refuses what is not a range, naming the field', () => {
    const err = (() => {
      try {
        defineSolution({ ...base, requires: { metalk8s: '^128' } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues.map((i) => i.path)).toContain('requires.metalk8s');
  });

  it('compares MetalK8s versions', () => {
    expect(satisfiesRange('129.0.0', '>=128.0.0 <131')).toBe(true);
    expect(satisfiesRange('131.0.0', '>=128.0.0 <131')).toBe(false);
    expect(satisfiesRange('130.99.3', '>=128.0.0 <131')).toBe(true);
    expect(satisfiesRange('127.4.0', '>=128.0.0 <131')).toBe(false);
    expect(satisfiesRange('129.0.0-alpha.1', '>=129.0.0')).toBe(false);
    expect(satisfiesRange('124.1.7', '>=125 || >=124.1.7 <125')).toBe(true);
    expect(satisfiesRange('124.1.6', '>=125 || >=124.1.7 <125')).toBe(false);
    expect(satisfiesRange('129.0.0', '129.0.0')).toBe(true);
  });
});

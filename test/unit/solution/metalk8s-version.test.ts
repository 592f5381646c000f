import { describe, expect, it } from 'vitest';
import { metalk8sFeatures } from '../../../src/index.js';

describe('metalk8sFeatures (metalk8s-reference §0, §2.9, §8)', () => {
  it('reads every way a MetalK8s version is written', () => {
    for (const v of ['129', '129.0', '129.0.0', 'metalk8s-129.0.0']) expect(metalk8sFeatures(v).version).toBe('129.0.0');
    expect(metalk8sFeatures('129.0.0-dev').version).toBe('129.0.0-dev');
    expect(metalk8sFeatures().version).toBe('129.0.0');
  });

  it('knows which versions have add-solution --webhook: 124.1.7 on the 124.1 line, 125.0 and later', () => {
    const webhook = (v: string) => metalk8sFeatures(v).webhook;
    expect(['2.11.3', '123.0.4', '124.0.9', '124.1.6'].map(webhook)).toEqual([false, false, false, false]);
    expect(['124.1.7', '125.0.0', '129.0.0', '130'].map(webhook)).toEqual([true, true, true, true]);
  });

  it('creates operator metrics objects only after 129', () => {
    expect(metalk8sFeatures('129.0.5').operatorMetrics).toBe(false);
    expect(metalk8sFeatures('130.0.0').operatorMetrics).toBe(true);
  });

  it('refuses what is not a version, with a hint', () => {
    expect(() => metalk8sFeatures('v129')).toThrow(expect.objectContaining({ code: 'METALK8S_VERSION_INVALID', hint: expect.stringMatching(/129\.0\.0/) }));
  });
});

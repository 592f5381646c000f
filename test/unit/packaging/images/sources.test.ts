import { describe, expect, it } from 'vitest';
import { parseChallenge } from '../../../../src/packaging/images/_registry.js';
import { parseImageSource } from '../../../../src/packaging/images/index.js';

describe('parseImageSource', () => {
  it.each([
    ['redis:7.2', { kind: 'registry', reference: 'redis:7.2' }],
    ['docker://quay.io/a/b:1', { kind: 'registry', reference: 'quay.io/a/b:1' }],
    ['oci:./build/oci:1.0.0', { kind: 'oci-layout', path: './build/oci', reference: '1.0.0' }],
    ['oci:/abs/layout', { kind: 'oci-layout', path: '/abs/layout' }],
    ['docker-archive:app.tar:vendor/app:1.0', { kind: 'docker-archive', path: 'app.tar', reference: 'vendor/app:1.0' }],
    ['oci-archive:app.tar', { kind: 'docker-archive', path: 'app.tar' }],
  ])('%s', (text, expected) => {
    expect(parseImageSource(text)).toEqual(expected);
  });
});

describe('WWW-Authenticate parsing', () => {
  it('reads bearer parameters, quoted or not, with commas inside quotes', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull,push"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/redis:pull,push' },
    });
    expect(parseChallenge('Basic realm=test')).toEqual({ scheme: 'basic', params: { realm: 'test' } });
    expect(parseChallenge('bearer realm="a\\"b"')?.params.realm).toBe('a"b');
    expect(parseChallenge('Negotiate xyz')).toBeUndefined();
    expect(parseChallenge(undefined)).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { proxyFor } from '../../../../src/packaging/images/_http.js';
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

describe('proxy selection', () => {
  const env = { HTTPS_PROXY: 'http://proxy.corp:3128', HTTP_PROXY: 'proxy.corp:8080', NO_PROXY: 'internal.corp, .lab.example,registry.local:5000' };
  const pick = (url: string, explicit?: string | false) => proxyFor(new URL(url), explicit, env)?.href;
  it('uses the environment by scheme, honours NO_PROXY, never proxies loopback', () => {
    expect(pick('https://quay.io/v2/')).toBe('http://proxy.corp:3128/');
    expect(pick('http://quay.io/v2/')).toBe('http://proxy.corp:8080/');
    expect(pick('https://internal.corp/v2/')).toBeUndefined();
    expect(pick('https://reg.internal.corp/v2/')).toBeUndefined();
    expect(pick('https://a.lab.example/v2/')).toBeUndefined();
    expect(pick('https://registry.local:5000/v2/')).toBeUndefined();
    expect(pick('https://notinternal.corp/v2/')).toBe('http://proxy.corp:3128/');
    expect(pick('http://127.0.0.1:5000/v2/')).toBeUndefined();
    expect(pick('http://localhost:5000/v2/')).toBeUndefined();
  });
  it('lets an explicit proxy or false win', () => {
    expect(pick('https://internal.corp/v2/', 'http://other:1')).toBe('http://other:1/');
    expect(pick('https://quay.io/v2/', false)).toBeUndefined();
    expect(proxyFor(new URL('https://quay.io'), undefined, { NO_PROXY: '*', HTTPS_PROXY: 'http://p:1' })).toBeUndefined();
  });
});

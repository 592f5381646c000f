import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../../../src/errors.js';
import { formatImageReference, parseImageReference, parsePlatform, platformMatches } from '../../../../src/packaging/images/index.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseImageReference', () => {
  it.each([
    ['redis', 'docker.io', 'library/redis', 'latest', undefined],
    ['redis:7.2', 'docker.io', 'library/redis', '7.2', undefined],
    ['docker.io/redis:7.2', 'docker.io', 'library/redis', '7.2', undefined],
    ['index.docker.io/bitnami/redis:7', 'docker.io', 'bitnami/redis', '7', undefined],
    ['bitnami/redis', 'docker.io', 'bitnami/redis', 'latest', undefined],
    ['quay.io/org/team/app:v1-rc.2', 'quay.io', 'org/team/app', 'v1-rc.2', undefined],
    ['127.0.0.1:5000/demo/hello:1.0.0', '127.0.0.1:5000', 'demo/hello', '1.0.0', undefined],
    ['localhost/app', 'localhost', 'app', 'latest', undefined],
    [`ghcr.io/a/b@${D}`, 'ghcr.io', 'a/b', undefined, D],
    [`ghcr.io/a/b:1.0@${D}`, 'ghcr.io', 'a/b', '1.0', D],
    ['registry:5000/x_y__z.w--v', 'registry:5000', 'x_y__z.w--v', 'latest', undefined],
  ])('%s', (text, registry, repository, tag, digest) => {
    expect(parseImageReference(text)).toEqual({ registry, repository, tag, digest });
  });

  it.each(['', 'Redis', 'redis:', 'redis@sha256:abc', 'a//b', 'a/-b', 'redis:-x', 'host:port:1/x'])('rejects %j', (text) => {
    expect(() => parseImageReference(text)).toThrow(ValidationError);
  });

  it('formats back to a fully qualified reference', () => {
    expect(formatImageReference(parseImageReference('redis'))).toBe('docker.io/library/redis:latest');
    expect(formatImageReference(parseImageReference(`q.io/a@${D}`))).toBe(`q.io/a@${D}`);
  });
});

describe('platforms', () => {
  it('parses and matches, arm64 implying v8', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(platformMatches({ os: 'linux', architecture: 'arm64' }, parsePlatform('linux/arm64/v8'))).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'arm', variant: 'v6' }, parsePlatform('linux/arm/v7'))).toBe(false);
    expect(platformMatches({ os: 'linux', architecture: 'amd64' }, parsePlatform('linux/arm64'))).toBe(false);
    expect(() => parsePlatform('amd64')).toThrow(ValidationError);
  });
});

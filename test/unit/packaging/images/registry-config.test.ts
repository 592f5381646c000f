import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { PackagingError } from '../../../../src/errors.js';
import { sha256Digest } from '../../../../src/packaging/images/_digest.js';
import { registryConfigTemplate, renderRegistryConfig, validateLayoutImages } from '../../../../src/packaging/images/index.js';

const manifest = (x: string) =>
  `{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json", "content": "${x}"}`;
const hex = (x: string) => sha256Digest(manifest(x)).slice(7);

describe('registryConfigTemplate', () => {
  it('writes the same bytes as MetalK8s static-container-registry.py --omit-constants', async () => {
    const golden = await readFile(new URL('../../../fixtures/images/static-container-registry.golden.j2', import.meta.url), 'utf8');
    // Insertion order differs from the sorted output on purpose.
    const images = new Map([
      ['zeta', new Map([['2.0', hex('A')], ['1.0', hex('A')]])],
      ['single', new Map([['1.0.0-rc.1', hex('D')]])],
      ['alpha', new Map([['v1.1', hex('B')], ['latest', hex('C')], ['v1', hex('B')]])],
    ]);
    expect(registryConfigTemplate(images)).toBe(golden);
  });

  it('renders like Salt does with repository and registry_root only', () => {
    const t = registryConfigTemplate(new Map([['app', new Map([['1.0', hex('A')]])]]));
    const out = renderRegistryConfig(t, { repository: 'acme-2.0.0', registryRoot: '/srv/scality/acme-2.0.0/images' });
    expect(out).toContain('location = /v2/acme-2.0.0/app/tags/list {');
    expect(out).toContain('alias /srv/scality/acme-2.0.0/images/app/1.0/;');
    expect(out).toContain('location ~ "/v2/acme-2.0.0/app/blobs/sha256:([a-f0-9]{64})" {');
    expect(out).not.toMatch(/\{\{|\{%|\{#/);
  });

  it('refuses to render a template with other Jinja syntax', () => {
    expect(() => renderRegistryConfig('{{ repository }} {% if x %}', { repository: 'a-1', registryRoot: '/r' })).toThrow(PackagingError);
    expect(() => renderRegistryConfig('{# note #}', { repository: 'a-1', registryRoot: '/r' })).toThrow(
      expect.objectContaining({ code: 'REGISTRY_CONFIG_NOT_JINJA_SAFE' }),
    );
  });
});

describe('validateLayoutImages', () => {
  it('reports every bad name, tag and duplicate at once, with paths', () => {
    const issues = validateLayoutImages([
      { name: 'ok', tag: '1.0' },
      { name: 'vendor/app', tag: '1.0' },
      { name: 'Upper', tag: '-bad' },
      { name: 'ok', tag: '1.0' },
      { name: 'x{{y}}', tag: '1' },
    ]);
    expect(issues.map((i) => [i.code, i.path])).toEqual([
      ['IMAGE_NAME_INVALID', 'images[1].name'],
      ['IMAGE_NAME_INVALID', 'images[2].name'],
      ['IMAGE_TAG_INVALID', 'images[2].tag'],
      ['IMAGE_DUPLICATE', 'images[3]'],
      ['IMAGE_NAME_INVALID', 'images[4].name'],
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { PackagingError, RegistryError } from '../../../../src/errors.js';
import { sha256Digest } from '../../../../src/packaging/images/_digest.js';
import { MediaTypes, parseManifest, toDockerV2s2 } from '../../../../src/packaging/images/index.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
const oci = (layerType: string = MediaTypes.ociLayerGzip) =>
  enc({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: d('c'), size: 10 },
    layers: [
      { mediaType: layerType, digest: d('1'), size: 100, annotations: { a: 'b' } },
      { mediaType: MediaTypes.ociLayer, digest: d('2'), size: 200 },
    ],
    annotations: { 'org.opencontainers.image.created': 'x' },
  });

describe('toDockerV2s2', () => {
  it('converts an OCI manifest: media types change, digests and sizes do not', () => {
    const v2 = toDockerV2s2(oci(), 'app');
    const doc = JSON.parse(new TextDecoder().decode(v2.bytes));
    expect(doc).toEqual({
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifest,
      config: { mediaType: MediaTypes.dockerConfig, size: 10, digest: d('c') },
      layers: [
        { mediaType: MediaTypes.dockerLayerGzip, size: 100, digest: d('1') },
        { mediaType: MediaTypes.dockerLayer, size: 200, digest: d('2') },
      ],
    });
    expect(v2.digest).toBe(sha256Digest(v2.bytes));
    expect(toDockerV2s2(oci(), 'app').digest).toBe(v2.digest);
  });

  it('keeps a v2s2 manifest byte for byte', () => {
    const bytes = new TextEncoder().encode(' {"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"x","digest":"' + d('c') + '","size":1},"layers":[]}\n');
    const v2 = toDockerV2s2(bytes, 'app');
    expect(v2.bytes).toBe(bytes);
    expect(v2.digest).toBe(sha256Digest(bytes));
  });

  it('refuses zstd layers with a hint', () => {
    const err = (() => {
      try {
        toDockerV2s2(oci(MediaTypes.ociLayerZstd), 'vendor/app:1.0');
      } catch (e) {
        return e as PackagingError;
      }
    })();
    expect(err).toBeInstanceOf(PackagingError);
    expect(err?.code).toBe('IMAGE_LAYER_ZSTD');
    expect(err?.message).toContain('vendor/app:1.0');
    expect(err?.hint).toMatch(/gzip/);
  });

  it('refuses an index and non-image artifacts', () => {
    const index = enc({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests: [] });
    expect(() => toDockerV2s2(index, 'x')).toThrow(/resolve a platform/);
    expect(() => parseManifest(enc({ schemaVersion: 2, mediaType: 'application/vnd.cncf.helm.chart.v1+json' }), 'x')).toThrow(RegistryError);
    expect(() => parseManifest(enc({ schemaVersion: 1, name: 'x' }), 'x')).toThrow(/schema 1/);
    expect(() => parseManifest(new TextEncoder().encode('<html>'), 'x')).toThrow(/not JSON/);
  });
});

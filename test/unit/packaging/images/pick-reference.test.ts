import { describe, expect, it } from 'vitest';
import { pickReference } from '../../../../src/packaging/images/_select.js';
import { type Descriptor, MediaTypes } from '../../../../src/packaging/images/index.js';

const entry = (n: string, annotations: Record<string, string>): Descriptor => ({
  mediaType: MediaTypes.ociManifest,
  digest: `sha256:${n.repeat(64)}`,
  size: 1,
  annotations,
});
// What Docker 25+ writes in a `docker save` index.json: the full name and the tag.
const index = {
  kind: 'index' as const,
  mediaType: MediaTypes.ociIndex,
  manifests: [
    entry('a', { 'io.containerd.image.name': 'docker.io/vendor/app:1.0', 'org.opencontainers.image.ref.name': '1.0' }),
    entry('b', { 'io.containerd.image.name': 'docker.io/vendor/db:1.0', 'org.opencontainers.image.ref.name': '1.0' }),
    entry('c', { 'org.opencontainers.image.ref.name': 'edge' }),
  ],
};

describe('pickReference', () => {
  it('matches full names, normalised names, and unique tags', () => {
    expect(pickReference(index, 'docker.io/vendor/db:1.0', 'x').digest).toBe(`sha256:${'b'.repeat(64)}`);
    expect(pickReference(index, 'vendor/db:1.0', 'x').digest).toBe(`sha256:${'b'.repeat(64)}`);
    expect(pickReference(index, 'edge', 'x').digest).toBe(`sha256:${'c'.repeat(64)}`);
  });
  it('refuses an ambiguous tag and a missing reference, listing what exists', () => {
    // Two images are tagged 1.0: a bare tag must not pick the first one silently.
    expect(() => pickReference(index, '1.0', 'x')).toThrow(/holds 2 images matching "1.0"/);
    expect(() => pickReference(index, 'other:1.0', 'x')).toThrow(
      expect.objectContaining({ code: 'OCI_LAYOUT_AMBIGUOUS', hint: 'Pass the full name: one of docker.io/vendor/app:1.0, docker.io/vendor/db:1.0.' }),
    );
    expect(() => pickReference(index, 'other/thing:2.0', 'x')).toThrow(/has no image "other\/thing:2.0"/);
    expect(() => pickReference(index, undefined, 'x')).toThrow(/holds 3 images/);
  });
});

/** Picks the manifest of one platform out of an index or manifest list. */
import { RegistryError } from '../../errors.js';
import type { Descriptor, ImageIndex } from './manifest.js';

/** Annotation holding a manifest's reference (tag) in an OCI layout's `index.json`. */
const REF_ANNOTATION = 'org.opencontainers.image.ref.name';
import { formatPlatform, type Platform, platformMatches } from './platform.js';

export function selectPlatform(index: ImageIndex, wanted: Platform, what: string): Descriptor {
  const candidates = index.manifests.filter((m) => m.platform !== undefined);
  const found = candidates.find((m) => platformMatches(m.platform!, wanted));
  if (found) return found;
  const available = candidates.map((m) => formatPlatform(m.platform!)).filter((p) => p !== 'unknown/unknown');
  throw new RegistryError('IMAGE_PLATFORM_NOT_FOUND', `${what} has no image for ${formatPlatform(wanted)}`, {
    hint: available.length
      ? `Available platforms: ${[...new Set(available)].join(', ')}. Pass one of them as platform.`
      : 'The index lists no platforms; pass the digest of the wanted manifest instead.',
  });
}

function refOf(d: Descriptor): string | undefined {
  return d.annotations?.[REF_ANNOTATION] ?? d.annotations?.['io.containerd.image.name'];
}

/** Picks the top-level descriptor for `reference` in an index.json (OCI layouts and OCI archives). */
export function pickReference(index: ImageIndex, reference: string | undefined, what: string): Descriptor {
  if (reference === undefined) {
    if (index.manifests.length === 1) return index.manifests[0]!;
    const refs = index.manifests.map(refOf).filter((r) => r !== undefined);
    throw new RegistryError('OCI_LAYOUT_AMBIGUOUS', `${what} holds ${index.manifests.length} images; say which one`, {
      hint: refs.length ? `Pass reference: one of ${refs.join(', ')}.` : 'Pass a reference.',
    });
  }
  const found =
    index.manifests.find((m) => refOf(m) === reference) ??
    index.manifests.find((m) => {
      const r = refOf(m);
      return r !== undefined && (r.endsWith(`:${reference}`) || reference.endsWith(`:${r}`));
    });
  if (found) return found;
  const refs = index.manifests.map(refOf).filter((r) => r !== undefined);
  throw new RegistryError('OCI_LAYOUT_REF_NOT_FOUND', `${what} has no image "${reference}"`, {
    hint: refs.length ? `Available: ${refs.join(', ')}.` : 'The layout has no named references; omit reference.',
  });
}

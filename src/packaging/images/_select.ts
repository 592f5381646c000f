/** Picks the manifest of one platform out of an index or manifest list. */
import { RegistryError } from '../../errors.js';
import type { Descriptor, ImageIndex } from './manifest.js';
import { formatPlatform, type Platform, platformMatches } from './platform.js';
import { parseImageReference } from './reference.js';

/** Annotation holding a manifest's reference (tag) in an OCI layout's `index.json`. */
const REF_ANNOTATION = 'org.opencontainers.image.ref.name';
/** Annotation with the full image name, written by containerd and Docker 25+ (`docker.io/vendor/app:1.0`). */
const NAME_ANNOTATION = 'io.containerd.image.name';

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
  return d.annotations?.[NAME_ANNOTATION] ?? d.annotations?.[REF_ANNOTATION];
}

/** Whether two references name the same image and tag (`app:1` and `docker.io/library/app:1`). */
export function sameImage(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    const x = parseImageReference(a);
    const y = parseImageReference(b);
    return x.registry === y.registry && x.repository === y.repository && x.tag === y.tag;
  } catch {
    return false;
  }
}

/**
 * Picks the top-level descriptor for `reference` in an index.json (OCI layouts and OCI
 * archives): an exact ref name, else the same image name (`vendor/app:1.0` matches
 * `docker.io/vendor/app:1.0`), else a tag-only ref name when exactly one entry has it.
 */
export function pickReference(index: ImageIndex, reference: string | undefined, what: string): Descriptor {
  const refs = index.manifests.map(refOf).filter((r) => r !== undefined);
  if (reference === undefined) {
    if (index.manifests.length === 1) return index.manifests[0]!;
    throw new RegistryError('OCI_LAYOUT_AMBIGUOUS', `${what} holds ${index.manifests.length} images; say which one`, {
      hint: refs.length ? `Pass reference: one of ${refs.join(', ')}.` : 'Pass a reference.',
    });
  }
  const names = (m: Descriptor) => [m.annotations?.[REF_ANNOTATION], m.annotations?.[NAME_ANNOTATION]].filter((r) => r !== undefined);
  const ambiguous = (matches: readonly Descriptor[]): never => {
    throw new RegistryError('OCI_LAYOUT_AMBIGUOUS', `${what} holds ${matches.length} images matching "${reference}"; say which one`, {
      hint: `Pass the full name: one of ${matches.flatMap((m) => m.annotations?.[NAME_ANNOTATION] ?? []).join(', ') || refs.join(', ')}.`,
    });
  };
  const exact = index.manifests.filter((m) => names(m).includes(reference));
  if (exact.length === 1) return exact[0]!;
  if (exact.length > 1) ambiguous(exact);
  const same = index.manifests.find((m) => names(m).some((r) => sameImage(r, reference)));
  if (same) return same;
  const tag = reference.slice(reference.lastIndexOf(':') + 1);
  const byTag = index.manifests.filter((m) => m.annotations?.[REF_ANNOTATION] === tag);
  if (byTag.length === 1) return byTag[0]!;
  if (byTag.length > 1) ambiguous(byTag);
  throw new RegistryError('OCI_LAYOUT_REF_NOT_FOUND', `${what} has no image "${reference}"`, {
    hint: refs.length ? `Available: ${refs.join(', ')}.` : 'The layout has no named references; omit reference.',
  });
}

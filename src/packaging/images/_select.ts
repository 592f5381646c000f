/** Picks the manifest of one platform out of an index or manifest list. */
import { RegistryError } from '../../errors.js';
import type { Descriptor, ImageIndex } from './manifest.js';
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

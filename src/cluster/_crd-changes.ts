/**
 * The CRD files of a Solution ISO, read where the SDK runs, for the upgrade warning: the breaking
 * changes themselves are `crdChanges()` of `packaging/diff.ts` (the same as `solution diff`).
 * MetalK8s itself does not look ("TODO: consider API version changes", §2.6).
 */
import { isCrdFile } from '../packaging/_archive.js';
import type { ArchiveContents } from '../packaging/diff.js';
import { openIso } from '../packaging/iso/index.js';

/** The `operator/deploy/crds/**\/*_crd.yaml` files of a Solution ISO. */
export async function crdFilesOfIso(archive: string, signal?: AbortSignal): Promise<ArchiveContents> {
  const iso = await openIso(archive, { signal });
  try {
    const files = new Map<string, Uint8Array>();
    for (const e of await iso.list({ view: 'rockridge' })) {
      if (e.type === 'file' && isCrdFile(e.path)) files.set(e.path, await iso.readFile(e, { view: 'rockridge' }));
    }
    return { files };
  } finally {
    await iso.close();
  }
}

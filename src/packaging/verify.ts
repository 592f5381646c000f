/**
 * `verify()`: checks a solution ISO the way a cautious operator would before importing it:
 * its `SHA256SUM` line, its Ed25519 signature, every file against `/sdk/index.json`, every
 * image blob against its digest, and everything MetalK8s itself relies on (the primary-tree
 * `MANIFEST.YAML;1`, the manifest rules, Docker v2s2 image folders holding all their blobs,
 * one-document Jinja-safe `_crd.yaml` files, a Role/ClusterRole-only `role.yaml`, a Jinja-safe
 * `registry-config.inc.j2`), and the rules `validateSolution` applies, on the CRDs, roles and
 * platform objects the ISO holds (apiextensions' CRD rules, RBAC as MetalK8s binds it, rule groups
 * as promtool checks them, StorageClass options, selectors, dashboard queries).
 *
 * The image is read once, sequentially: the whole-image sha256 and every file's sha256 are
 * computed in the same pass, and content shared by several files (identical layers) is hashed
 * once. ISOs built by other tools are checked as far as they allow: without `/sdk/index.json`
 * a warning is given and the blob and MetalK8s checks still run. The MetalK8s checks live in
 * `_verify-metalk8s.ts` (one hashing pass in `_hash-image.ts`); this module owns the trust
 * checks: checksum, signature and the SDK index.
 *
 * @module
 */
import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Issue, IsoError, PackagingError, SdkError } from '../errors.js';
import { checkArchiveObjects } from '../solution/_archive-rules.js';
import { archiveFiles, isBlobPath, parseSdkIndex, SMALL_FILE_MAX } from './_archive.js';
import { checksumsOf } from './_checksum-file.js';
import { hashImage } from './_hash-image.js';
import { checkCrds, checkImages, checkManifest, checkPlatform, checkPrimaryManifest, checkRegistryConfig, checkRoles, Issues, readByChecks } from './_verify-metalk8s.js';
import { type IsoEntryInfo, type IsoImage, openIso } from './iso/iso-reader.js';
import type { SdkIndex } from './pack.js';
import { SDK_INDEX_PATH, signatureMessage } from './_sdk-index.js';

/** Progress of {@link verify}. */
export type VerifyProgressEvent =
  | { readonly type: 'phase'; readonly phase: 'open' | 'read' | 'metalk8s' }
  | { readonly type: 'read'; readonly bytesRead: number; readonly bytesTotal: number };

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** The ISO to check. */
  readonly path: string;
  /**
   * Ed25519 public key (PEM text or KeyObject) the ISO must be signed with. When given, a
   * missing or wrong `<iso>.sig` is an error.
   * @default none: a signature present beside the ISO is reported as not checked
   */
  readonly publicKey?: string | KeyObject | undefined;
  /** The detached signature file. @default `<iso>.sig` */
  readonly signaturePath?: string | undefined;
  /** The checksum file. @default `SHA256SUM` beside the ISO (a warning when absent) */
  readonly checksumPath?: string | undefined;
  readonly onProgress?: ((event: VerifyProgressEvent) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** What {@link verify} found. */
export interface VerifyResult {
  /** Absolute path of the ISO. */
  readonly path: string;
  /** Size of the file, in bytes. */
  readonly size: number;
  /** sha256 of the whole file, hex. */
  readonly sha256: string;
  /** No error-severity issue. */
  readonly ok: boolean;
  /** Every problem found, errors and warnings, in check order. */
  readonly issues: readonly Issue[];
  /** `SHA256SUM`: the line matched, did not, or there was none. */
  readonly checksum: 'match' | 'mismatch' | 'absent';
  /** The signature: valid, invalid, missing while a key was given, or present but no key given. */
  readonly signature: 'valid' | 'invalid' | 'missing' | 'unchecked' | 'absent';
  /** Whether the ISO carries `/sdk/index.json`. */
  readonly indexed: boolean;
  /** Regular files whose content was hashed. */
  readonly filesChecked: number;
  /** Image blobs whose digest was checked. */
  readonly blobsChecked: number;
  /** Name and version from `manifest.yaml`, when readable. */
  readonly solution?: { readonly name: string; readonly version: string } | undefined;
}

function publicKeyOf(key: string | KeyObject): KeyObject {
  // A private key would verify too (its public half is inside), but whoever holds it can sign
  // anything: it must never be handed to the people who verify.
  if ((typeof key === 'string' && /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(key)) || (typeof key !== 'string' && key.type === 'private')) {
    throw new PackagingError('VERIFY_KEY_IS_PRIVATE', 'the verification key is a private key; verify takes the public key', {
      hint: 'Give the public half (`solution keygen` writes it as <name>.pub.pem, or `openssl pkey -in sign.pem -pubout`), and keep the private key on the build machine only.',
    });
  }
  try {
    const k = typeof key === 'string' ? createPublicKey(key) : key;
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`a ${k.asymmetricKeyType ?? k.type} key`);
    return k;
  } catch (err) {
    throw new PackagingError('VERIFY_KEY_INVALID', `the verification key is not an Ed25519 public key (${err instanceof Error ? err.message : String(err)})`, {
      hint: 'Give the public half of the signing key: `openssl pkey -in sign.pem -pubout -out sign.pub.pem`.',
      cause: err,
    });
  }
}

async function checkChecksum(isoPath: string, sha256: string, options: VerifyOptions, issues: Issues): Promise<VerifyResult['checksum']> {
  const sumPath = options.checksumPath ? resolve(options.checksumPath) : join(dirname(isoPath), 'SHA256SUM');
  let text: string;
  try {
    text = await readFile(sumPath, 'utf8');
  } catch (err) {
    if (options.checksumPath !== undefined) {
      // Asked for by name: its absence is not a detail.
      issues.error('CHECKSUM_FILE_MISSING', sumPath, `the checksum file given cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, 'Check the --checksum-file path, or leave it out to use SHA256SUM beside the ISO.');
      return 'absent';
    }
    issues.warn('CHECKSUM_FILE_MISSING', sumPath, 'no SHA256SUM file beside the ISO: its integrity was checked only against its own index', 'Ship the SHA256SUM file `solution pack` writes next to the ISO.');
    return 'absent';
  }
  const name = basename(isoPath);
  const claimed = checksumsOf(text, name);
  if (claimed.size > 1) {
    issues.error('CHECKSUM_CONFLICT', sumPath, `SHA256SUM has ${claimed.size} different lines for ${name} (${[...claimed].map((h) => h.slice(0, 12)).join(', ')}…): it cannot vouch for the ISO`, 'Use the SHA256SUM file published with this ISO; a file with conflicting lines was edited or merged by hand.');
    return 'mismatch';
  }
  const [only] = claimed;
  if (only !== undefined) {
    if (only === sha256) return 'match';
    issues.error('CHECKSUM_MISMATCH', sumPath, `${name}: sha256 is ${sha256}, SHA256SUM says ${only}`, 'The ISO was changed or damaged after it was packed: download or copy it again.');
    return 'mismatch';
  }
  issues.warn('CHECKSUM_ENTRY_MISSING', sumPath, `SHA256SUM has no line for ${name}`, 'Use the SHA256SUM file written with this ISO.');
  return 'absent';
}

async function checkSignature(isoPath: string, sha256: string, options: VerifyOptions, issues: Issues): Promise<VerifyResult['signature']> {
  const sigPath = options.signaturePath ? resolve(options.signaturePath) : `${isoPath}.sig`;
  let text: string | undefined;
  try {
    text = await readFile(sigPath, 'utf8');
  } catch {
    text = undefined;
  }
  if (options.publicKey === undefined) {
    if (text !== undefined) {
      issues.warn('SIGNATURE_NOT_CHECKED', sigPath, 'the ISO is signed but no public key was given, so the signature was not checked', 'Pass the vendor public key (`--key pub.pem`).');
      return 'unchecked';
    }
    return 'absent';
  }
  const key = publicKeyOf(options.publicKey);
  if (text === undefined) {
    issues.error('SIGNATURE_MISSING', sigPath, 'a public key was given but the ISO has no signature file', 'Get the .sig file published with the ISO, or pack with `--sign`.');
    return 'missing';
  }
  const sig = Buffer.from(text.trim(), 'base64');
  if (sig.length !== 64 || !/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    issues.error('SIGNATURE_MALFORMED', sigPath, 'the signature file does not hold a base64 Ed25519 signature (64 bytes)', 'Get the .sig file published with the ISO.');
    return 'invalid';
  }
  if (!verifySignature(null, signatureMessage(sha256), key, sig)) {
    issues.error('SIGNATURE_INVALID', sigPath, 'the signature does not match this ISO and key: the ISO was changed, or it was signed with another key', 'Do not import this ISO; get it again from the vendor and check which key signed it.');
    return 'invalid';
  }
  return 'valid';
}

function checkAgainstIndex(
  index: SdkIndex,
  files: readonly IsoEntryInfo[],
  digests: Map<string, { digest: string; truncated: boolean }>,
  issues: Issues,
): void {
  const inIso = new Map(files.map((f) => [f.path, f]));
  const listed = new Set<string>();
  for (const f of index.files) {
    listed.add(f.path);
    const e = inIso.get(f.path);
    if (!e) {
      issues.error('FILE_MISSING', f.path, `listed in ${SDK_INDEX_PATH} but not in the ISO`, 'The ISO is incomplete or was rebuilt by hand: pack it again.');
      continue;
    }
    if (e.size !== f.size) {
      issues.error('FILE_SIZE_MISMATCH', f.path, `has ${e.size} bytes, ${SDK_INDEX_PATH} says ${f.size}`, 'The ISO was changed after packing: pack it again.');
      continue;
    }
    const d = digests.get(f.path);
    // Blobs are checked against their own name below (same value): one issue per damage.
    if (d && !d.truncated && d.digest !== f.sha256 && !isBlobPath(f.path)) {
      issues.error('FILE_DIGEST_MISMATCH', f.path, `sha256 is ${d.digest}, ${SDK_INDEX_PATH} says ${f.sha256}`, 'The file was changed or damaged after packing: get the ISO again.');
    }
  }
  for (const f of files) {
    if (f.path !== SDK_INDEX_PATH && !listed.has(f.path)) {
      issues.error('FILE_NOT_INDEXED', f.path, `in the ISO but not listed in ${SDK_INDEX_PATH}: it was added after packing`, 'Pack the ISO again instead of editing it.');
    }
  }
}

/**
 * Verifies a solution ISO: checksum, signature, every file against `/sdk/index.json`, every blob
 * against its digest, and MetalK8s compatibility. Problems are returned as issues (never thrown);
 * an error is thrown only when the ISO cannot be opened at all or the key is not usable.
 *
 * @example
 * const result = await verify({ path: 'out/zenko-2.6.0.iso', publicKey: await readFile('sign.pub.pem', 'utf8') });
 * if (!result.ok) for (const i of result.issues) console.error(i.code, i.path, i.message);
 */
export async function verify(options: VerifyOptions): Promise<VerifyResult> {
  const path = resolve(options.path);
  const issues = new Issues();
  if (options.publicKey !== undefined) publicKeyOf(options.publicKey);
  options.onProgress?.({ type: 'phase', phase: 'open' });
  let iso: IsoImage | undefined;
  try {
    iso = await openIso(path, { signal: options.signal });
  } catch (err) {
    if (!(err instanceof IsoError) || err.code === 'ISO_OPEN_FAILED' || err.code === 'ISO_NOT_REGULAR_FILE') throw err;
    issues.error(err.code, basename(path), err.message, err.hint);
  }
  try {
    let files: IsoEntryInfo[] = [];
    if (iso) {
      try {
        files = await archiveFiles(iso, options.signal);
      } catch (err) {
        if (!(err instanceof IsoError)) throw err;
        issues.error(err.code, basename(path), `cannot list the ISO: ${err.message}`, err.hint);
      }
    }
    options.onProgress?.({ type: 'phase', phase: 'read' });
    // The small files the checks read are kept from the one pass (not read a second time).
    const forChecks = (f: IsoEntryInfo) => f.size <= SMALL_FILE_MAX && readByChecks(f.path);
    const { sha256, size, digests } = await hashImage(path, iso, files, options, forChecks);
    if (iso && size < iso.volumeSize) {
      issues.error('ISO_TRUNCATED', basename(path), `the file has ${size} bytes but its volume descriptor says ${iso.volumeSize}: the ISO is truncated`, 'Download or copy the ISO again and compare its checksum.');
    }
    const checksum = await checkChecksum(path, sha256, options, issues);
    const signature = await checkSignature(path, sha256, options, issues);
    if (!iso) {
      return { path, size, sha256, ok: false, issues: issues.list, checksum, signature, indexed: false, filesChecked: 0, blobsChecked: 0 };
    }

    // Content of the files the checks read, from the one pass.
    const small = new Map<string, Uint8Array>();
    let blobsChecked = 0;
    for (const f of files) {
      const d = digests.get(f.path);
      if (d?.truncated) {
        issues.error('FILE_TRUNCATED', f.path, 'its content lies beyond the end of the ISO', 'The ISO is truncated: download or copy it again.');
        continue;
      }
      if (isBlobPath(f.path)) {
        blobsChecked++;
        const want = f.path.slice(f.path.lastIndexOf('/') + 1);
        if (d && d.digest !== want) {
          issues.error('BLOB_DIGEST_MISMATCH', f.path, `content has sha256 ${d.digest}, not the digest it is named by`, 'The blob was damaged or altered after packing: do not import this ISO; get it again.');
        }
      } else if (forChecks(f)) {
        if (d?.bytes) {
          small.set(f.path, d.bytes);
          continue;
        }
        try {
          small.set(f.path, await iso.readFile(f, { signal: options.signal }));
        } catch (err) {
          if (!(err instanceof IsoError)) throw err;
          issues.error(err.code, f.path, err.message, err.hint);
        }
      }
    }

    const parsed = parseSdkIndex(small.get(SDK_INDEX_PATH));
    if (parsed.problem) issues.error('SDK_INDEX_INVALID', SDK_INDEX_PATH, parsed.problem, 'Pack the ISO again with `solution pack`.');
    else if (!parsed.index) {
      issues.warn('SDK_INDEX_MISSING', SDK_INDEX_PATH, 'the ISO has no SDK index (built by another tool?): files are checked for MetalK8s compatibility and blob digests only', 'Pack with `solution pack` to get per-file checksums.');
    }
    const index = parsed.index;
    if (index) {
      const own = index.files.find((f) => f.path === SDK_INDEX_PATH);
      if (own) issues.error('SDK_INDEX_INVALID', SDK_INDEX_PATH, 'the index lists itself', 'Pack the ISO again.');
      checkAgainstIndex(index, files, digests, issues);
    }

    options.onProgress?.({ type: 'phase', phase: 'metalk8s' });
    await checkPrimaryManifest(iso, issues);
    const manifest = checkManifest(small.get('manifest.yaml'), index, issues);
    checkImages(files, small, index, manifest?.images, issues);
    checkRegistryConfig(small, files, issues);
    checkCrds(small, files, issues);
    checkRoles(small, issues);
    checkPlatform(small, files, manifest?.name, issues);
    // The solution rules, on what the ISO holds: the report validate gives, for the archive.
    issues.list.push(...checkArchiveObjects(small));

    return {
      path,
      size,
      sha256,
      ok: !issues.list.some((i) => i.severity === 'error'),
      issues: issues.list,
      checksum,
      signature,
      indexed: index !== undefined,
      filesChecked: files.length,
      blobsChecked,
      ...(manifest ? { solution: { name: manifest.name, version: manifest.version } } : {}),
    };
  } catch (err) {
    if (err instanceof SdkError) throw err;
    throw new PackagingError('VERIFY_FAILED', `cannot verify ${path}: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'Check that the file is readable.',
      cause: err,
    });
  } finally {
    await iso?.close();
  }
}


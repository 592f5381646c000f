/**
 * sha256 digests: parsing, hashing bytes and streams. node:crypto is OpenSSL, the fastest
 * hash available to Node; no library is needed.
 */
import { createHash } from 'node:crypto';
import { PackagingError } from '../../errors.js';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

/** True when `value` is a `sha256:<64 hex>` digest. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** The 64 hex characters of a `sha256:` digest. Throws a `PackagingError` (`DIGEST_INVALID`) on anything else. */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m?.[1]) throw new PackagingError('DIGEST_INVALID', `${JSON.stringify(digest)} is not a sha256 digest`, { hint: 'Digests are written sha256:<64 lowercase hex characters>.' });
  return m[1];
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

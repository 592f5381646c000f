/**
 * sha256 digests: parsing, hashing bytes and streams. node:crypto is OpenSSL, the fastest
 * hash available to Node; no library is needed.
 */
import { createHash } from 'node:crypto';

const DIGEST_RE = /^sha256:([a-f0-9]{64})$/;

/** True when `value` is a `sha256:<64 hex>` digest. */
export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** The 64 hex characters of a `sha256:` digest. Throws a plain Error on anything else (callers check first). */
export function digestHex(digest: string): string {
  const m = DIGEST_RE.exec(digest);
  if (!m?.[1]) throw new Error(`not a sha256 digest: ${digest}`);
  return m[1];
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

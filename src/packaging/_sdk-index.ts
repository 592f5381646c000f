/**
 * What `verify`, `inspect` and `diff` need of the packer at run time: where the SDK's index
 * sits in the ISO and the message a `.sig` file signs. Apart from `pack.ts` so that the
 * commands reading an ISO do not load the packing pipeline (image fetching, the solution file
 * loader). Private to the SDK.
 */

/** Path of the SDK's index inside the ISO. */
export const SDK_INDEX_PATH = 'sdk/index.json';

/**
 * The signed message of a `.sig` file: the ISO's sha256 digest (32 raw bytes).
 *
 * @example
 * ```ts
 * const ok = verify(null, signatureMessage(result.sha256), publicKey, Buffer.from(sigText, 'base64'));
 * ```
 */
export function signatureMessage(sha256Hex: string): Buffer {
  return Buffer.from(sha256Hex, 'hex');
}

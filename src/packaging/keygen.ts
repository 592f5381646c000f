/**
 * `keygen()`: an Ed25519 key pair for signing solution ISOs (`pack({ signingKey })`,
 * `solution pack --sign`) and checking them (`verify({ publicKey })`, `solution verify --key`).
 * The private key is written with mode 0600 and never replaces an existing file.
 *
 * @module
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fromSystemError, PackagingError, SdkError } from '../errors.js';

/** Options of {@link keygen}. */
export interface KeygenOptions {
  /** Where to write the private key (PEM, PKCS #8), mode 0600. */
  readonly privateKeyPath: string;
  /** Where to write the public key (PEM, SPKI). @default the private key's path with `.pem` replaced by `.pub.pem` */
  readonly publicKeyPath?: string | undefined;
}

/** What {@link keygen} wrote. */
export interface KeygenResult {
  readonly privateKeyPath: string;
  readonly publicKeyPath: string;
  /** sha256 of the public key (DER), hex: compare it out of band with what the vendor publishes. */
  readonly fingerprint: string;
}

async function writeNew(path: string, text: string, mode: number): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    // 'wx': never replaces an existing key; the mode is set at creation, the key is never world-readable.
    fh = await open(path, 'wx', mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new PackagingError('KEY_FILE_EXISTS', `${path} already exists; keygen never replaces a key`, {
        hint: 'Choose another name, or remove the old key yourself if it is no longer used (ISOs signed with it can then no longer be re-signed).',
      });
    }
    throw fromSystemError(err, { file: path, doing: 'write a key' }) ?? err;
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
  } finally {
    await fh.close();
  }
}

/**
 * Generates an Ed25519 key pair and writes it: the private key 0600, the public key 0644.
 *
 * @example
 * ```ts
 * const { publicKeyPath, fingerprint } = await keygen({ privateKeyPath: 'keys/vendor.pem' });
 * // pack({ ..., signingKey: await readFile('keys/vendor.pem', 'utf8') })
 * ```
 */
export async function keygen(options: KeygenOptions): Promise<KeygenResult> {
  const privateKeyPath = resolve(options.privateKeyPath);
  const publicKeyPath = resolve(options.publicKeyPath ?? (/\.pem$/.test(privateKeyPath) ? privateKeyPath.replace(/\.pem$/, '.pub.pem') : `${privateKeyPath}.pub.pem`));
  if (publicKeyPath === privateKeyPath) {
    throw new SdkError('OPTION_INVALID', 'the public and private key paths are the same', { hint: 'Give two different paths.' });
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const der = publicKey.export({ type: 'spki', format: 'der' });
  await writeNew(privateKeyPath, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  try {
    await writeNew(publicKeyPath, publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644);
  } catch (err) {
    // Never leave a private key without its public half.
    await rm(privateKeyPath, { force: true });
    throw err;
  }
  return { privateKeyPath, publicKeyPath, fingerprint: createHash('sha256').update(der).digest('hex') };
}

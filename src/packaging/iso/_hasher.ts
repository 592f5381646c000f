/**
 * sha256 of the image while it is written, chunk by chunk, while each chunk is still in the CPU
 * cache. (A worker thread was tried: on the project's 2-core machines its messaging cost as much
 * CPU as it saved, and it added about 12 MiB of RSS.) Private to the ISO module.
 */
import { createHash, type Hash } from 'node:crypto';

/** Hashes the chunks handed to it. */
export interface ImageHasher {
  /** Hashes `length` bytes of `buffer`. */
  update(buffer: Buffer, length: number): void;
  /** The hex digest of everything hashed (`undefined` when not hashing). */
  digest(): string | undefined;
}

class Sha256Hasher implements ImageHasher {
  private readonly hash: Hash = createHash('sha256');
  update(buffer: Buffer, length: number): void {
    this.hash.update(buffer.subarray(0, length));
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}

class NoHasher implements ImageHasher {
  update(): void {}
  digest(): undefined {
    return undefined;
  }
}

/** A sha256 hasher, or one that does nothing when `enabled` is false. */
export function createImageHasher(enabled: boolean): ImageHasher {
  return enabled ? new Sha256Hasher() : new NoHasher();
}

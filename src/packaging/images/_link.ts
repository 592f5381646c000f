/** Materialises a stored blob at another path: a hard link when possible, else an atomic copy. */
import { randomBytes } from 'node:crypto';
import { copyFile, link, rename, stat, unlink } from 'node:fs/promises';

export async function linkOrCopy(src: string, dst: string): Promise<'linked' | 'copied' | 'present'> {
  const existing = await stat(dst).catch(() => undefined);
  if (existing) {
    const s = await stat(src);
    if (existing.ino === s.ino && existing.dev === s.dev) return 'present';
    await unlink(dst);
  }
  try {
    await link(src, dst);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw err;
  }
  const tmp = `${dst}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await copyFile(src, tmp);
    await rename(tmp, dst);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return 'copied';
}

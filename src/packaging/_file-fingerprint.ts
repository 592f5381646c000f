/**
 * A file's identity and last change, as `stat` gives them with nanoseconds: what the blob store
 * records when it has hashed a blob (images/blob-store.ts, trust records) and what the ISO writer
 * checks again when it opens a path source that carries one (iso/_sink.ts).
 *
 * @module
 */
/**
 * A file as it was at one moment: device, inode, size, modification and change time (ns). An
 * `fs.BigIntStats` (`stat(path, { bigint: true })`) is one. Writing to the file, `chmod`, a new
 * hard link, or another file renamed in its place each change at least one of them.
 */
export interface FileFingerprint {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** Whether two fingerprints are of the same file, unchanged. */
export function sameFile(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}

/** The text of a fingerprint in a record file: `v1 <dev> <ino> <size> <mtimeNs> <ctimeNs>`. */
export function formatFingerprint(f: FileFingerprint): string {
  return `v1 ${f.dev} ${f.ino} ${f.size} ${f.mtimeNs} ${f.ctimeNs}\n`;
}

/** Reads {@link formatFingerprint}'s text back; `undefined` for anything else. */
export function parseFingerprint(text: string): FileFingerprint | undefined {
  const m = /^v1 (\d{1,20}) (\d{1,20}) (\d{1,20}) (\d{1,25}) (\d{1,25})\n$/.exec(text);
  if (!m) return undefined;
  return { dev: BigInt(m[1]!), ino: BigInt(m[2]!), size: BigInt(m[3]!), mtimeNs: BigInt(m[4]!), ctimeNs: BigInt(m[5]!) };
}

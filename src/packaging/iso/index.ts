/**
 * ISO 9660 images: a streaming, deterministic writer (level 3, Rock Ridge, Joliet) and a
 * bounded, defensive reader.
 *
 * @module
 */
export {
  DEFAULT_ISO_TIMESTAMP,
  ISO_MAX_SECTION,
  type IsoBytesSource,
  type IsoDirectoryEntry,
  type IsoEntry,
  type IsoFileEntry,
  type IsoFileSource,
  type IsoPathSource,
  type IsoSourceStats,
  type IsoStreamSource,
  type IsoSymlinkEntry,
  type IsoWriteProgress,
  type IsoWriteWarning,
  writeIso,
  type WriteIsoOptions,
  type WriteIsoResult,
} from './iso-writer.js';
export * from './iso-reader.js';

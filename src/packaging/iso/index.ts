/**
 * ISO 9660 images: a streaming, deterministic writer (level 3, Rock Ridge, Joliet) and a
 * bounded, defensive reader.
 *
 * @module
 */
export * from './iso-writer.js';
export * from './iso-reader.js';

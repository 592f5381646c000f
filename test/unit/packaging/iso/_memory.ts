import { Writable } from 'node:stream';
import { type WriteIsoOptions, type WriteIsoResult, writeIso } from '../../../../src/packaging/iso/index.js';

/** Writes an image into memory. */
export async function writeToBuffer(
  options: Omit<WriteIsoOptions, 'output'>,
): Promise<{ bytes: Buffer; result: WriteIsoResult }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  const result = await writeIso({ ...options, output: sink });
  return { bytes: Buffer.concat(chunks), result };
}

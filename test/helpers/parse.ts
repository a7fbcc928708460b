/** Runs a parser stage over bytes fed a few at a time, as a source's reads would: the parse tests' harness. */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ParserKind, RawRecord } from '../../src/model.ts';
import type { ScannerOptions } from '../../src/parse/scanner.ts';
import { parseStage } from '../../src/parse/stream.ts';

/** `bytes` in pieces of `slice` bytes (the last may be shorter). */
export function* slices(bytes: Buffer, slice: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += slice) yield bytes.subarray(i, i + slice);
}

/** The records a parser stage makes of `chunks` (bytes cut into `slice`-byte pieces, or pieces as given). */
export async function parseChunks(kind: ParserKind, chunks: Buffer | Iterable<Buffer>, slice: number, options: Partial<ScannerOptions> = {}): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  await pipeline(
    Readable.from(Buffer.isBuffer(chunks) ? slices(chunks, slice) : chunks, { objectMode: false }),
    parseStage(kind, { format: 'json', source: 'doc', maxRecordBytes: 1 << 24, recordsPath: null, ...options }),
    new Writable({
      objectMode: true,
      write: (records: RawRecord[], _e, cb) => {
        out.push(...records);
        cb();
      },
    }),
  );
  return out;
}

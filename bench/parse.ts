/**
 * The parse stage alone, on the same file: the scanner (structural scan + JSON.parse per record, the
 * default), stream-json (packed mode, driven synchronously in one stage), and JSON.parse of the whole file
 * (the ceiling, only where the file fits in one string).
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ParserKind } from '../src/model.ts';
import { parseStage } from '../src/parse/stream.ts';

export interface ParseResult {
  parser: string;
  seconds: number;
  mbPerSecond: number;
  records: number;
}

export async function parseThroughput(file: string, parser: ParserKind): Promise<ParseResult> {
  const bytes = statSync(file).size;
  let records = 0;
  const t = performance.now();
  await pipeline(
    createReadStream(file, { highWaterMark: 256 * 1024 }),
    parseStage(parser, { format: 'json', source: file, maxRecordBytes: 1 << 24 }),
    new Writable({
      objectMode: true,
      write(batch: unknown[], _e, cb) {
        records += batch.length;
        cb();
      },
    }),
  );
  const seconds = (performance.now() - t) / 1000;
  return { parser, seconds, mbPerSecond: bytes / 1e6 / seconds, records };
}

/** JSON.parse of the whole file; null when the file is beyond what one string can hold (~500 MB). */
export function wholeFileJsonParse(file: string): ParseResult | null {
  const bytes = statSync(file).size;
  if (bytes > 450 * 1024 * 1024) return null;
  const t = performance.now();
  const value = JSON.parse(readFileSync(file, 'utf8')) as unknown[];
  const seconds = (performance.now() - t) / 1000;
  return { parser: 'JSON.parse (whole file)', seconds, mbPerSecond: bytes / 1e6 / seconds, records: value.length };
}

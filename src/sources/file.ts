/** Local files (named pipes and devices too) and standard input. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { EtlError } from '../errors.ts';
import type { InputFormat } from '../model.ts';
import { formatFromName, type Source, type SourceInfo } from './types.ts';

/** Large reads: fewer chunks, fewer stream crossings; the scanner does not care where a chunk ends. */
const READ_CHUNK = 256 * 1024;

export class FileSource implements Source {
  readonly uri: string;
  readonly format: InputFormat;
  private readonly path: string;

  constructor(path: string, format?: InputFormat) {
    this.path = resolve(path);
    this.uri = this.path;
    this.format = format ?? formatFromName(path) ?? 'auto';
  }

  async info(): Promise<SourceInfo> {
    try {
      const st = await stat(this.path);
      // A named pipe or a device (`<(gunzip -c export.json.gz)`, /dev/stdin): read once as it comes, as standard
      // input is, with no size and no fingerprint (the ledger cannot know it again: it always loads).
      if (st.isFIFO() || st.isCharacterDevice()) return { size: null, fingerprint: null };
      if (st.isDirectory()) throw new EtlError('E_SOURCE', `${this.path}: a folder, not a file: give the files in it, as in ${this.path}/*.json (loaded in the order given)`);
      if (!st.isFile()) throw new EtlError('E_SOURCE', `${this.path}: not a regular file, a named pipe or a device`);
      // A name for whatever file is open (/dev/stdin < export.json, /dev/fd/3, /proc/self/fd/0) is not that file's
      // name: another file of the same size and time behind it must not be skipped as loaded already.
      if (/^\/(dev|proc)\//.test(this.path)) return { size: st.size, fingerprint: null };
      return { size: st.size, fingerprint: `size=${st.size};mtime=${st.mtimeMs}` };
    } catch (err) {
      if (err instanceof EtlError) throw err;
      throw new EtlError('E_SOURCE', `${this.path}: cannot read: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  open(): Readable {
    return createReadStream(this.path, { highWaterMark: READ_CHUNK });
  }
}

export class StdinSource implements Source {
  readonly uri = '-';
  readonly format: InputFormat;

  constructor(format?: InputFormat) {
    this.format = format ?? 'auto';
  }

  async info(): Promise<SourceInfo> {
    return { size: null, fingerprint: null };
  }

  open(): Readable {
    return process.stdin;
  }
}

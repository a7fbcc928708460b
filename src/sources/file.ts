/** Local files (named pipes and devices too) and standard input. */
import { closeSync, createReadStream, open } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Socket } from 'node:net';
import { resolve } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { EtlError } from '../errors.ts';
import type { InputFormat } from '../model.ts';
import { formatFromName, type Source, type SourceInfo } from './types.ts';

/** Names of an open file descriptor rather than of a file: /dev/stdin, /dev/fd/N, /proc/self/fd/N, /proc/<pid>/task/<tid>/fd/N. */
const OPEN_FILE_ALIAS = /^\/(dev\/(stdin|fd\/)|proc\/(self|thread-self|\d+)\/(task\/\d+\/)?fd\/)/;

/** Large reads: fewer chunks, fewer stream crossings; the scanner does not care where a chunk ends. */
const READ_CHUNK = 256 * 1024;

export class FileSource implements Source {
  readonly uri: string;
  readonly format: InputFormat;
  private readonly path: string;
  /** What info() found: a named pipe is read as a socket (see openPipe). */
  private pipe = false;

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
      if (st.isFIFO() || st.isCharacterDevice()) {
        this.pipe = st.isFIFO();
        return { size: null, fingerprint: null };
      }
      if (st.isDirectory()) throw new EtlError('E_SOURCE', `${this.path}: a folder, not a file: give the files in it, as in ${this.path}/*.json or ${this.path}/*.ndjson (loaded in the order given)`);
      if (!st.isFile()) throw new EtlError('E_SOURCE', `${this.path}: not a regular file, a named pipe or a character device`);
      // A name for whatever file is open (/dev/stdin < export.json, /dev/fd/3, /proc/self/fd/0) is not that file's
      // name: another file of the same size and time behind it must not be skipped as loaded already.
      if (OPEN_FILE_ALIAS.test(this.path)) return { size: st.size, fingerprint: null };
      return { size: st.size, fingerprint: `size=${st.size};mtime=${st.mtimeMs}` };
    } catch (err) {
      if (err instanceof EtlError) throw err;
      throw new EtlError('E_SOURCE', `${this.path}: cannot read: ${(err as Error).message}`, {}, { cause: err });
    }
  }

  open(): Readable {
    return this.pipe ? openPipe(this.path) : createReadStream(this.path, { highWaterMark: READ_CHUNK });
  }
}

/**
 * A named pipe, read as Node reads standard input when it is a pipe: through a socket, which waits for data
 * in the event loop. A file stream would wait in a read of the thread pool, which nothing interrupts: a load
 * that failed while the writer was alive but idle (a stalled download) then could not end before the writer
 * did (measured: 23 s for a writer that slept 20 s). The open itself waits for a writer to open the pipe, as
 * the reader of a shell's `<(...)` must; meanwhile nothing else of the load runs.
 */
function openPipe(path: string): Readable {
  const out = new PassThrough({ highWaterMark: READ_CHUNK });
  open(path, 'r', (err, fd) => {
    if (err) {
      out.destroy(err);
      return;
    }
    if (out.destroyed) {
      closeSync(fd);
      return;
    }
    const socket = new Socket({ fd, readable: true, writable: false });
    socket.on('error', (e) => out.destroy(e));
    out.on('close', () => socket.destroy());
    socket.pipe(out);
  });
  return out;
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

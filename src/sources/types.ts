/**
 * Where bytes come from. A source says who it is (for the ledger), how big it is (for progress) and what
 * format its name suggests, and opens a byte stream. Decompression and format sniffing happen after it.
 */
import type { Readable } from 'node:stream';
import type { InputFormat } from '../model.ts';

export interface SourceInfo {
  /** Bytes as stored (compressed size for gzip), when known. */
  size: number | null;
  /** Identifies this version of the source for the ledger; null when it cannot be known (stdin). */
  fingerprint: string | null;
}

export interface Source {
  /** How the source is named in messages, the ledger and rejects; never holds credentials. */
  readonly uri: string;
  /** The format its name says, or `auto` to sniff the first byte. */
  readonly format: InputFormat;
  /** Size and fingerprint; fails fast (missing file, bucket, key or permission) before anything is written. */
  info(): Promise<SourceInfo>;
  /** The bytes, from the start. */
  open(): Readable;
}

/** A name without its `.gz` or `.gzip` (any case): what the data inside is called. */
export function withoutGzipSuffix(name: string): string {
  return name.replace(/\.(gz|gzip)$/i, '');
}

/** Format from a name: `.json` array, `.ndjson`/`.jsonl` lines, either optionally `.gz` (gzip is sniffed anyway). */
export function formatFromName(name: string): InputFormat | null {
  const n = withoutGzipSuffix(name).toLowerCase();
  if (n.endsWith('.json')) return 'json';
  if (n.endsWith('.ndjson') || n.endsWith('.jsonl')) return 'ndjson';
  return null;
}

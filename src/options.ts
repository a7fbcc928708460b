/**
 * The one place where options are validated and frozen. A bad value gets a message naming the flag, the
 * value given and what is allowed (exit 2).
 */
import { resolve } from 'node:path';
import { EtlError, shellWord } from './errors.ts';
import { duckdbFile, isMysqlUrl, isS3Uri, NO_HISTORY, type HistoryMode, type InputFormat, type ParserKind } from './model.ts';

export interface LoadOptions {
  readonly sources: readonly string[];
  readonly db: string | undefined;
  readonly dbSslCa: string | undefined;
  /** The warehouse options of a command this load suggests (commandFlags). */
  readonly dbFlags: string;
  /** Orders per batch; null: the warehouse's own default (WarehouseCapabilities.defaultBatchSize). */
  readonly batchSize: number | null;
  readonly format: InputFormat | undefined;
  /** --records-path: the keys from the top-level object down to the array of orders; null: the top level. */
  readonly recordsPath: readonly string[] | null;
  readonly parser: ParserKind;
  readonly force: boolean;
  /** --history: the mode the load asks for (it must be the warehouse's); undefined: whatever the warehouse has. */
  readonly history: HistoryMode | undefined;
  /** Keep the fact table's secondary keys during a large load into a filled warehouse (MySQL). */
  readonly keepFactKeys: boolean;
  readonly maxRejects: number;
  readonly maxRecordBytes: number;
  readonly maxInflateRatio: number;
  readonly maxInflatedBytes: number;
  readonly lockTimeout: number;
  readonly retries: number;
  readonly json: boolean;
  readonly progress: boolean;
  readonly s3Region: string | undefined;
  readonly s3Endpoint: string | undefined;
  readonly s3StallTimeout: number;
}

/**
 * --batch-size when none is given depends on the warehouse (its capabilities say which; the sweep in
 * bench/RESULTS.md says why): this text is what --help shows.
 */
export const BATCH_SIZE_HELP = 'the warehouse\'s: 10000 on MySQL/MariaDB and on DuckDB; 20000 into a DuckDB SCD1 warehouse whose fact table already holds more lines than the load can add (estimated from the sources\' sizes)';

export const DEFAULTS = {
  keepFactKeys: false,
  history: undefined,
  // A few bad records should not block millions of good ones; a file that is mostly bad (the wrong file,
  // the wrong format) should stop early instead of filling etl_rejects.
  maxRejects: 1000,
  maxRecordBytes: 8 * 1024 * 1024,
  maxInflateRatio: 200,
  maxInflatedBytes: 64 * 1024 ** 3,
  lockTimeout: 600,
  retries: 5,
  s3StallTimeout: 30,
} as const;

/** The warehouse asked for: --db, else ORDERS_ETL_DB; an empty variable is an unset one, as shells treat it. */
export function warehouseArg(flag: unknown, env: NodeJS.ProcessEnv): string | undefined {
  return (flag as string | undefined) ?? (env.ORDERS_ETL_DB || undefined);
}

/**
 * The endpoint of S3 sources: --s3-endpoint, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, as the SDK reads
 * them (an empty variable is an unset one, for the SDK as in a shell). The flag is checked whatever the
 * sources, as any flag given is. A variable is set for a whole environment, other tools included, so it is
 * read only when a source is s3:// (a load of local files has no endpoint), and a bad one is refused by its
 * own name, not by that of a flag the user never gave.
 */
export function s3EndpointArg(flag: unknown, env: NodeJS.ProcessEnv, sources: readonly string[]): string | undefined {
  const allowed = 'an http:// or https:// URL';
  const valid = (v: unknown): v is string => typeof v === 'string' && /^https?:\/\/[^\s]+$/.test(v);
  if (flag !== undefined) {
    if (!valid(flag)) throw usage('--s3-endpoint', flag, allowed);
    return flag;
  }
  const name = ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL'].find((n) => env[n]);
  if (name === undefined || !sources.some(isS3Uri)) return undefined;
  if (!valid(env[name])) throw usage(name, env[name], allowed);
  return env[name];
}

/**
 * The warehouse options of a command a message suggests (orders-etl rejects ...), as they were given, so that
 * it reaches the same warehouse the same way: no --db when the warehouse came from ORDERS_ETL_DB or the
 * default (the same shell has them), else --db as written (a DuckDB path made absolute; a MySQL URL with user
 * info gets <user> and <password> in its place: credentials never reach output, as redact() has it);
 * --db-ssl-ca whenever it was given (no variable holds it). Each a shell word, with a leading space.
 */
export function commandFlags(db: unknown, sslCa: unknown): string {
  const ca = typeof sslCa === 'string' ? ` --db-ssl-ca ${shellWord(sslCa)}` : '';
  if (typeof db !== 'string') return ca;
  let shown = db;
  // A DuckDB file by its absolute path, as the warehouse names it: the command finds it from any folder.
  const file = duckdbFile(db);
  if (file !== null) shown = `duckdb:${resolve(file)}`;
  if (isMysqlUrl(db)) {
    try {
      // As the driver reads it: user info up to the last @ of the authority, spaces and all.
      const u = new URL(db);
      if (u.username !== '' || u.password !== '') shown = `${u.protocol}//<user>:<password>@${u.host}${u.pathname}${u.search}`;
    } catch {
      shown = '<the --db of this load>'; // not a URL (the load would not have run): nothing of it is shown
    }
  }
  return ` --db ${shellWord(shown)}${ca}`;
}

export function usage(flag: string, given: unknown, allowed: string): EtlError {
  return new EtlError('E_USAGE', `${flag}: ${JSON.stringify(given)} is not allowed; expected ${allowed}`);
}

function integer(flag: string, v: unknown, min: number, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw usage(flag, v, `an integer from ${min} to ${max}`);
  return n;
}

/**
 * --records-path: keys separated by dots, each non-empty (`orders`, `data.orders`). A dot inside a key is
 * written `\.` and a backslash `\\` (`--records-path 'v1\.2.orders'` is the key `v1.2`, then `orders`).
 */
export function parseRecordsPath(v: unknown): readonly string[] {
  const allowed = 'a dotted path of non-empty keys to the array of orders, as in orders or data.orders (a dot inside a key: \\.)';
  if (typeof v !== 'string' || v === '') throw usage('--records-path', v, allowed);
  const keys: string[] = [''];
  for (let i = 0; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\') {
      const next = v[i + 1];
      if (next !== '.' && next !== '\\') throw usage('--records-path', v, allowed);
      keys[keys.length - 1] += next;
      i++;
    } else if (c === '.') {
      keys.push('');
    } else {
      keys[keys.length - 1] += c;
    }
  }
  if (keys.some((k) => k === '')) throw usage('--records-path', v, allowed);
  return Object.freeze(keys);
}

/** `--load N` of orders-etl rejects: a load id as orders-etl loads lists them. */
/** --history customers,products | customers | products | none */
export function parseHistory(v: unknown): HistoryMode | undefined {
  if (v === undefined || v === null) return undefined;
  const allowed = 'customers, products, customers,products or none';
  if (typeof v !== 'string') throw usage('--history', v, allowed);
  const words = v.split(',').map((w) => w.trim().toLowerCase());
  if (words.length === 1 && words[0] === 'none') return NO_HISTORY;
  if (words.some((w) => w !== 'customers' && w !== 'products') || new Set(words).size !== words.length) throw usage('--history', v, allowed);
  return { customers: words.includes('customers'), products: words.includes('products') };
}

/** --lock-timeout, for load and init. */
export function lockTimeout(v: unknown): number {
  return integer('--lock-timeout', v ?? DEFAULTS.lockTimeout, 0, 86400);
}

export function loadId(v: unknown): number {
  return integer('--load', v, 1, Number.MAX_SAFE_INTEGER);
}

function positive(flag: string, v: unknown, max: number): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  if (!Number.isFinite(n) || n <= 0 || n > max) throw usage(flag, v, `a number above 0 and at most ${max}`);
  return n;
}

export function normalizeLoadOptions(raw: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): LoadOptions {
  const sources = (raw.sources as unknown[] | undefined) ?? [];
  if (sources.length === 0) throw new EtlError('E_USAGE', 'load: give at least one source (a file, s3://bucket/key, s3://bucket/prefix/ or -)');
  for (const s of sources) if (typeof s !== 'string' || s === '') throw usage('<source>', s, 'a path, an s3:// URI or -');
  if (sources.filter((s) => s === '-').length > 1) throw usage('<source>', '-', 'standard input at most once');

  let format: InputFormat | undefined;
  if (raw.format !== undefined) {
    if (!['json', 'ndjson', 'auto'].includes(raw.format as string)) throw usage('--format', raw.format, 'json, ndjson or auto');
    format = raw.format as InputFormat;
  }
  const recordsPath = raw.recordsPath === undefined ? null : parseRecordsPath(raw.recordsPath);
  // NDJSON has no enclosing document to descend into: each line is a record.
  if (recordsPath && format === 'ndjson') throw new EtlError('E_USAGE', '--records-path: a JSON document has a path to its orders; NDJSON (--format ndjson) has none: leave out one of the two');
  const parser = (raw.parser ?? 'scanner') as ParserKind;
  if (!['scanner', 'stream-json'].includes(parser)) throw usage('--parser', raw.parser, 'scanner or stream-json');
  const db = warehouseArg(raw.db, env);
  if (db !== undefined && typeof db !== 'string') throw usage('--db', '(not shown)', 'a URL');
  const s3Endpoint = s3EndpointArg(raw.s3Endpoint, env, sources as string[]);

  return Object.freeze({
    sources: Object.freeze([...(sources as string[])]),
    db,
    dbSslCa: raw.dbSslCa as string | undefined,
    dbFlags: commandFlags(raw.db, raw.dbSslCa),
    batchSize: raw.batchSize === undefined || raw.batchSize === null ? null : integer('--batch-size', raw.batchSize, 1, 1_000_000),
    format,
    recordsPath,
    parser,
    force: Boolean(raw.force),
    history: parseHistory(raw.history),
    keepFactKeys: Boolean(raw.keepFactKeys),
    maxRejects: integer('--max-rejects', raw.maxRejects ?? DEFAULTS.maxRejects, 0, Number.MAX_SAFE_INTEGER),
    maxRecordBytes: integer('--max-record-bytes', raw.maxRecordBytes ?? DEFAULTS.maxRecordBytes, 1024, 1024 ** 3),
    maxInflateRatio: positive('--max-inflate-ratio', raw.maxInflateRatio ?? DEFAULTS.maxInflateRatio, 1e6),
    maxInflatedBytes: integer('--max-inflated-bytes', raw.maxInflatedBytes ?? DEFAULTS.maxInflatedBytes, 1, Number.MAX_SAFE_INTEGER),
    lockTimeout: lockTimeout(raw.lockTimeout),
    retries: integer('--retries', raw.retries ?? DEFAULTS.retries, 0, 100),
    json: Boolean(raw.json),
    progress: raw.progress === undefined ? true : Boolean(raw.progress),
    s3Region: raw.s3Region as string | undefined,
    s3Endpoint,
    s3StallTimeout: positive('--s3-stall-timeout', raw.s3StallTimeout ?? DEFAULTS.s3StallTimeout, 3600),
  });
}

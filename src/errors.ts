/**
 * One error class for everything the engine reports, with a stable `code` a caller can switch on and the
 * context a user needs to act: which source, which record, which byte. `transient` errors (a dropped
 * connection, a deadlock, a stalled S3 body) may be retried; everything else is terminal.
 */
import { createRequire } from 'node:module';

export type EtlErrorCode =
  | 'E_USAGE' // a flag or argument is wrong (exit 2)
  | 'E_PARSE' // the bytes are not the JSON we expect
  | 'E_ENCODING' // the bytes are not UTF-8
  | 'E_RECORD_TOO_LARGE' // one record exceeds --max-record-bytes
  | 'E_INFLATE_LIMIT' // gzip expands beyond the ratio or size cap
  | 'E_MAX_REJECTS' // more invalid records than --max-rejects allows
  | 'E_ALL_REJECTED' // a source had records and none was a loadable order: the wrong shape, not bad records
  | 'E_HISTORY_MODE' // a command asks for another history mode than the warehouse has
  | 'E_SOURCE' // a local source cannot be read
  | 'E_S3' // S3 refused or failed
  | 'E_SOURCE_CHANGED' // the object changed while we were reading it
  | 'E_DB' // the database refused
  | 'E_DB_CONNECTION' // the database went away
  | 'E_LOCK' // another load holds the warehouse, or (MySQL) queries hold the fact table its keys are built on
  | 'E_INSTALL' // a package the command needs is not installed, or its native code does not load
  | 'E_INTERNAL';

export interface ErrorContext {
  source?: string;
  recordIndex?: number;
  byteOffset?: number;
  line?: number;
}

export class EtlError extends Error {
  override readonly name = 'EtlError';
  readonly code: EtlErrorCode;
  readonly context: ErrorContext;
  readonly transient: boolean;
  /**
   * The message holds no credentials: whatever the user gave was redacted where the message was written, so
   * it is printed as it is. For messages that show an example URL, which redact() would mangle into
   * mysql://***:***@host.
   */
  readonly redacted: boolean;

  constructor(code: EtlErrorCode, message: string, context: ErrorContext = {}, opts: { cause?: unknown; transient?: boolean; redacted?: boolean } = {}) {
    super(formatMessage(message, context), opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.context = context;
    this.transient = opts.transient ?? false;
    this.redacted = opts.redacted ?? false;
  }
}

function formatMessage(message: string, ctx: ErrorContext): string {
  const where: string[] = [];
  if (ctx.recordIndex !== undefined) where.push(`record ${ctx.recordIndex}`);
  if (ctx.byteOffset !== undefined) where.push(`byte ${ctx.byteOffset}`);
  if (ctx.line !== undefined) where.push(`line ${ctx.line}`);
  const prefix = [ctx.source, where.join(', ')].filter((s) => s).join(': ');
  return prefix ? `${prefix}: ${message}` : message;
}

/**
 * Remove user:password from any URL-looking text before it reaches a message or a log: everything from the
 * scheme's // up to the last @ before the path, as a URL parser splits it (a password may hold @ or a space),
 * even if that takes more of the line than the credentials.
 */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)([^/?#@\r\n]*@)*([^/?#@\r\n]*)@/gi, (_m, scheme: string) => `${scheme}***:***@`);
}

/** `text` cut to at most `max` UTF-16 units, never between the two halves of a surrogate pair. */
export function cutText(text: string, max: number): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** `word` as one word of a POSIX shell command, so that a command a message suggests can be pasted as it is. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

/** An error's message as the user may see it: without credentials, unless it was written without them. */
export function userMessage(err: unknown): string {
  return err instanceof EtlError && err.redacted ? err.message : redact(err instanceof Error ? err.message : String(err));
}

/** The repair of an install that lacks a package (OnDemand.repair), as every on-demand import says it. */
export const REINSTALL = 'install the dependencies again with npm ci in the orders-etl folder';

/** What importFor loads, and for what. */
export interface OnDemand {
  /** Who needed it, as the user gave it: `the warehouse duckdb:./w.duckdb (--db or ORDERS_ETL_DB)`, an `s3://` URI. */
  needer: string;
  /**
   * The CommonJS packages the imported code imports (a dependency imports its own). Each is required first: on
   * Node 20 a CommonJS module that throws while an ES module imports it fails the import() and, besides, ends
   * the thread as an uncaught exception (nodejs/node#51603). A require() only throws; once it has loaded, the
   * import finds the same module in require's cache.
   */
  packages: readonly string[];
  /** What did not load, for the message: `DuckDB's library (...)`. */
  what: string;
  /** How to repair the install, for the message. */
  repair: string;
}

/**
 * `load()`: the import of code only some commands need (DuckDB's bindings, the AWS SDK), which is why it is not
 * checked at startup. When a package it imports is not installed or does not load, an E_INSTALL error that says
 * who needed it, what did not load and how to repair it, instead of Node's bare "Cannot find module". Any other
 * error, a missing file of the project's own among them (a bug, not the install), is rethrown as it is.
 */
export async function importFor<T>(need: OnDemand, load: () => Promise<T>): Promise<T> {
  try {
    const require = createRequire(import.meta.url);
    for (const pkg of need.packages) {
      try {
        require(pkg);
      } catch (err) {
        // A package published as ES modules only (Node before 20.19 does not require those, nor later ones with
        // top-level await): the import loads it.
        const code = (err as NodeJS.ErrnoException | null)?.code;
        if (code !== 'ERR_REQUIRE_ESM' && code !== 'ERR_REQUIRE_ASYNC_MODULE') throw err;
      }
    }
    return await load();
  } catch (err) {
    const { code, requireStack } = (err ?? {}) as NodeJS.ErrnoException & { requireStack?: unknown };
    const message = err instanceof Error ? err.message : String(err);
    const why = message.split('\n', 1)[0]!.trim();
    // Missing: a package (named, not a path: ./, /, file:, C:\), or a file of an installed package (a path in
    // node_modules, or one a module in node_modules asked for: an install cut short). A native library that
    // does not load; DuckDB's bindings throw a plain Error on a platform they have no binary for.
    const inModules = (text: unknown) => typeof text === 'string' && /[\\/]node_modules[\\/]/.test(text);
    const missing =
      (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') &&
      (/^Cannot find (?:module|package) '(?![./]|file:|[A-Za-z]:[\\/])/.test(why) || inModules(why) || (Array.isArray(requireStack) && inModules(requireStack[0])));
    if (!missing && code !== 'ERR_DLOPEN_FAILED' && !/native binding/i.test(why)) throw err;
    throw new EtlError('E_INSTALL', `${need.needer}: ${need.what} did not load (${why}); ${need.repair}`, {}, { cause: err });
  }
}

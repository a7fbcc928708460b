/**
 * The command line: yargs only. argv -> options -> run; no pipeline logic here.
 * Exit codes: 0 success, 1 the load failed, 2 bad usage.
 */
import yargs, { type Options } from 'yargs';
import { EtlError, redact, userMessage } from '../errors.ts';
import { BATCH_SIZE_HELP, DEFAULTS, loadId, lockTimeout, normalizeLoadOptions, parseHistory, usage, warehouseArg, type LoadOptions } from '../options.ts';
import { historyName, type HistoryMode } from '../model.ts';
import { rejectsCommand, runLoad, UnfinishedLoad, type LoadSummary } from '../pipeline/load.ts';
import { Progress } from '../pipeline/progress.ts';
import { resolveSources } from '../sources/resolve.ts';
import { openWarehouse } from '../warehouse/index.ts';
import type { QuerySink, Warehouse } from '../warehouse/types.ts';
import { DEFAULT_PREVIEW_ROWS, Output, resultWriter, type OutputFormat, type TableOptions } from './output.ts';
import { closest } from './suggest.ts';
import { packageVersion } from './version.ts';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /**
   * Told what stops the statement that query, loads or rejects is running, and null once it is done: on Ctrl-C or
   * SIGTERM, bin/orders-etl.js has it stopped on the server before the process ends by that signal.
   */
  onStoppable?: (stop: (() => Promise<void>) | null) => void;
  /** Told each source a load starts to read (LoadHooks.onSource). */
  onSource?: (uri: string, resumable: boolean) => void;
}

const defaultIo: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

/** Parsed arguments as yargs hands them over; options.ts validates what they hold. */
type Args = Record<string, unknown>;

/** yargs drops a lone `-`; it stands for standard input, so it travels under another name through yargs. */
const STDIN_ARG = '\u0000stdin';

/**
 * A word that starts with `-` and holds white space before any `=` is no flag: SQL that starts with a comment
 * (`orders-etl query "-- top customers<newline>SELECT ..."`), which yargs would take for one. (A flag's value
 * after `=` may hold white space: `--db=duckdb:/my dir/w.duckdb`.) It travels with this prefix, which `run`
 * takes off again.
 */
const WORD_ARG = '\u0000word:';

/**
 * A flag that takes a value takes it as text, and must have one: yargs' number type would turn `abc` into NaN
 * before options.ts could quote what was given, and without requiresArg `--batch-size` at the end of the line,
 * or followed by another flag, would pass silently. Defaults are applied (and described) by options.ts.
 */
const valued = (describe: string, extra: Options = {}): Options => ({ type: 'string', requiresArg: true, describe, ...extra });
const flag = (describe: string, extra: Options = {}): Options => ({ type: 'boolean', describe, ...extra });

const GLOBAL_FLAGS: Record<string, Options> = {
  db: valued(
    'Warehouse: mysql://user:password@host:3306/database or duckdb:<file> (env ORDERS_ETL_DB; default duckdb:./warehouse.duckdb, in the current folder). MySQL URL parameters: ssl-mode, ssl-ca',
  ),
  'max-heap-mb': valued('Heap limit of the engine in MB, 64 or more (memory is bounded by the batch size; this is the cap)', { defaultDescription: '160' }),
  'db-ssl-ca': valued('PEM file of the CA for TLS to MySQL; turns TLS on with certificate verification'),
};

const HISTORY_FLAG = valued(
  'Which dimensions keep their history (SCD Type 2, versions by order date): customers, products, customers,products or none. Fixed when the warehouse is created; a load or init that asks for another mode fails',
  { defaultDescription: 'init: none; load: the warehouse\'s' },
);

const LOCK_TIMEOUT_FLAG = valued(
  'Seconds to wait while another load holds the warehouse; MySQL: also while a query or open transaction holds a table whose keys are built after a bulk load (the fact table; in a history warehouse also the dimensions and the days tables), at least 10 s for that',
  { defaultDescription: String(DEFAULTS.lockTimeout) },
);

const LOAD_FLAGS: Record<string, Options> = {
  'batch-size': valued(
    'Orders per batch (a batch also ends at 10 order lines per order of it): each batch commits atomically, and a crash loses at most the batches in flight. Larger batches load faster (fewer commits; DuckDB gains most) and take more memory (about 3 KB per order in flight)',
    { defaultDescription: BATCH_SIZE_HELP },
  ),
  format: valued('Input format (default: from the file name, else sniffed)', { choices: ['auto', 'json', 'ndjson'] }),
  'records-path': valued(
    'Dotted path to the array of orders in an export wrapped in an object, e.g. orders for {"orders": [...]}, data.orders for {"data": {"orders": [...]}} (a dot inside a key: \\.)',
  ),
  parser: valued('JSON parser: the structural scanner (fast) or stream-json', { choices: ['scanner', 'stream-json'], defaultDescription: 'scanner' }),
  force: flag('Load sources the ledger says are already loaded'),
  history: HISTORY_FLAG,
  'keep-fact-keys': flag(
    'MySQL: keep the fact table\'s secondary indexes and foreign keys during a load into a filled warehouse, however large (by default a load of about a tenth of the table or more builds them after, which is much faster, while queries during the load run without them)',
  ),
  'max-rejects': valued('Fail the load when more records than this in one source are invalid', { defaultDescription: String(DEFAULTS.maxRejects) }),
  'max-record-bytes': valued('Fail on a single record larger than this', { defaultDescription: String(DEFAULTS.maxRecordBytes) }),
  'max-inflate-ratio': valued('Fail when gzip expands more than this ratio', { defaultDescription: String(DEFAULTS.maxInflateRatio) }),
  'max-inflated-bytes': valued('Fail when one gzip source expands beyond this many bytes', { defaultDescription: String(DEFAULTS.maxInflatedBytes) }),
  'lock-timeout': LOCK_TIMEOUT_FLAG,
  retries: valued('Retries of a batch after a lost connection, deadlock or lock wait timeout; of an S3 body without progress', { defaultDescription: String(DEFAULTS.retries) }),
  json: flag('Print one JSON summary object on stdout'),
  progress: flag('Show a progress line on stderr when it is a terminal (--no-progress: never)', { default: true }),
  's3-region': valued('AWS region of the bucket (default: from the AWS configuration)'),
  's3-endpoint': valued('S3-compatible endpoint URL, path-style (env AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL)'),
  's3-stall-timeout': valued('Seconds without a byte before an S3 body is resumed', { defaultDescription: String(DEFAULTS.s3StallTimeout) }),
};

/** --json and --csv, for every command that prints rows. */
const OUTPUT_FLAGS: Record<string, Options> = {
  json: flag('Print every row as a JSON object, one per line'),
  csv: flag('Print every row as CSV (RFC 4180, a header line, LF line ends)'),
};

const REJECTS_FLAGS: Record<string, Options> = {
  ...OUTPUT_FLAGS,
  load: valued('Only the rejects of this load (its load_id in orders-etl loads)'),
};

/** Each command's own flags, for "did you mean". */
const COMMAND_FLAGS: Record<string, Record<string, Options>> = {
  load: LOAD_FLAGS,
  init: { history: HISTORY_FLAG, 'lock-timeout': LOCK_TIMEOUT_FLAG },
  query: OUTPUT_FLAGS,
  loads: OUTPUT_FLAGS,
  rejects: REJECTS_FLAGS,
};

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode = 0;
  let failure: unknown = null;
  /** What failed, in the message of a failure: `load failed`, `query failed`. */
  let doing = 'load';
  const run = (args: Args, work: () => Promise<number>, what: string) => async () => {
    doing = what;
    // `-` went through yargs as STDIN_ARG (it would take it for a flag): a source or a flag's value is `-` again;
    // likewise a word that only looked like a flag (WORD_ARG).
    const dash = (v: unknown) => (v === STDIN_ARG ? '-' : typeof v === 'string' && v.startsWith(WORD_ARG) ? v.slice(WORD_ARG.length) : v);
    for (const [k, v] of Object.entries(args)) (args as Record<string, unknown>)[k] = Array.isArray(v) ? v.map(dash) : dash(v);
    try {
      // bin/orders-etl.js applies --max-heap-mb to the worker it starts; a value it cannot apply is refused here.
      checkGivenOnce(args);
      checkHeapMb(args.maxHeapMb);
      exitCode = await work();
    } catch (err) {
      failure = err;
    }
  };
  const db = (args: Args) => warehouseArg(args.db, io.env);
  const ca = (args: Args) => args.dbSslCa as string | undefined;
  const parser = yargs()
    .scriptName('orders-etl')
    .usage('$0 <command> [options]\n\nStreams nested order exports (JSON, NDJSON, gzip; files, stdin, S3) into a star schema in an embedded DuckDB file (the default) or MySQL/MariaDB.')
    .env(false)
    .strict()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .options(GLOBAL_FLAGS)
    .command(
      'load <sources..>',
      'Load exports into the warehouse (first load and incremental loads alike)',
      (y) =>
        y
          .positional('sources', { type: 'string', array: true, describe: 'Files, s3://bucket/key, s3://bucket/prefix/ or - for stdin, loaded in the order given' })
          .options(LOAD_FLAGS),
      (args) =>
        run(
          args,
          () => {
            return runLoadCommand(normalizeLoadOptions({ ...args, sources: args.sources ?? [] } as Record<string, unknown>, io.env), io);
          },
          'load',
        )(),
    )
    .command(
      'init',
      'Create the star schema, the load ledger and the rejects table (load creates what is missing, too)',
      (y) => y.options(COMMAND_FLAGS.init!),
      (args) => run(args, () => runInit(db(args), ca(args), parseHistory(args.history), lockTimeout(args.lockTimeout), io), 'init')(),
    )
    .command(
      'query <sql>',
      'Run SQL against the warehouse (read-only) and print the result: a table (the first 1000 rows), or every row as JSON lines or CSV',
      (y) => y.positional('sql', { type: 'string', describe: 'The statement, e.g. "SELECT * FROM customers LIMIT 10"' }).options(OUTPUT_FLAGS).conflicts('json', 'csv'),
      (args) => run(args, () => runView(db(args), ca(args), outputFormat(args), QUERY_TABLE, (w, sink) => w.streamQuery(querySql(args.sql), sink), io), 'query')(),
    )
    .command(
      'loads',
      'The load ledger: every source load, newest first, with its status, records, counts, rejects, times and error',
      (y) => y.options(OUTPUT_FLAGS).conflicts('json', 'csv'),
      (args) => run(args, () => runView(db(args), ca(args), outputFormat(args), LOADS_TABLE, (w, sink) => w.streamLoads(sink), io), 'loads')(),
    )
    .command(
      'rejects',
      'Records quarantined as invalid: load, record index, byte offset, reason and the raw record (cut to fit in the table)',
      (y) => y.options(REJECTS_FLAGS).conflicts('json', 'csv'),
      (args) =>
        run(
          args,
          () => {
            const only = args.load === undefined ? null : loadId(args.load);
            return runView(db(args), ca(args), outputFormat(args), REJECTS_TABLE, (w, sink) => w.streamRejects(only, sink), io);
          },
          'rejects',
        )(),
    )
    .demandCommand(1, 'Give a command: load, init, query, loads or rejects')
    .help()
    .alias('h', 'help')
    .version(packageVersion());
  // After it calls a command's handler, yargs renders the whole help text, to have it at hand should the handler
  // fail; this CLI prints its own messages then, so it is not made: it took about 90 ms of a load's start (its
  // many flags, wrapped), on the thread that then loads. An internal method of yargs: where it is gone, nothing.
  const internals = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.();
  const usage = internals?.getUsageInstance?.();
  if (usage && typeof usage.cacheHelpMessage === 'function') usage.cacheHelpMessage = () => {};
  // With a callback, yargs hands help and usage text to us instead of printing it, and waits for the handler.
  // After `--`, every argument is a word (a source named `-orders.json`), as in any Unix command: yargs would put
  // those words aside, unchecked, and `load a.json -- -b.json` loaded a.json alone and said nothing of -b.json.
  const end = argv.indexOf('--');
  const args = argv
    .map((a, i) => (a === '-' ? STDIN_ARG : (end >= 0 && i > end && a.startsWith('-')) || /^-[^=]*\s/s.test(a) ? WORD_ARG + a : a))
    .filter((_, i) => i !== end);
  const { err, output } = await new Promise<{ err: Error | null; output: string }>((resolve) => {
    void parser.parse(args, {}, (e, _argv, out) => resolve({ err: e ?? null, output: out }));
  });
  if (failure) return report(failure, io, doing);
  if (err) {
    // A --db URL typed where a word belongs (`orders-etl loads mysql://u:secret@h/db`) is quoted back: without its password.
    io.stderr.write(`orders-etl: ${redact(usageError(err.message.replaceAll(WORD_ARG, ''), end >= 0 ? argv.slice(0, end) : argv))}\nRun orders-etl --help for usage.\n`);
    return 2;
  }
  if (output) io.stdout.write(`${output}\n`);
  return exitCode;
}

/**
 * yargs' own words for a usage error, made to name the flag as the rest of the CLI does, and to suggest what
 * a mistyped command or flag most likely meant (a command's known flags, not every flag of the CLI).
 */
function usageError(message: string, argv: string[]): string {
  const missing = /^Not enough arguments following: (.+)$/.exec(message);
  if (missing) return `--${missing[1]}: needs a value`;
  // yargs' own words for a choice and a conflict, in the form of every other refusal (`--flag: "value" is not allowed; ...`).
  if (message.startsWith('Invalid values:')) {
    const refusals = [...message.matchAll(/Argument: ([\w-]+), Given: (.*), Choices: (.*)$/gm)].map(([, flag, given, choices]) => `--${flag}: ${given} is not allowed; expected one of ${choices!.replace(/"/g, '')}`);
    if (refusals.length > 0) return refusals.join('\norders-etl: ');
  }
  const conflict = /^Arguments ([\w-]+) and ([\w-]+) are mutually exclusive$/.exec(message);
  if (conflict) return `--${conflict[1]} and --${conflict[2]}: give one of them, not both`;
  if (!/^Unknown arguments?: /.test(message)) return message;
  // The command: the first word that is neither a flag nor the value of a global flag.
  let command: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith('-')) {
      if (!a.includes('=') && a.replace(/^--?/, '') in GLOBAL_FLAGS) i++;
      continue;
    }
    command = a;
    break;
  }
  const commands = Object.keys(COMMAND_FLAGS);
  if (command !== undefined && !commands.includes(command)) {
    const meant = closest(command, commands);
    return `unknown command ${JSON.stringify(command)}; ${meant ? `did you mean ${meant}?` : `the commands are ${commands.join(', ')}`}`;
  }
  const own = command === undefined ? {} : COMMAND_FLAGS[command]!;
  const known = Object.entries({ ...GLOBAL_FLAGS, ...own }).flatMap(([name, o]) => (o.type === 'boolean' ? [name, `no-${name}`] : [name]));
  known.push('help', 'version');
  const unknown = argv.filter((a) => a.startsWith('-') && a !== '-' && !known.includes(a.replace(/^--?/, '').replace(/=.*$/, '')));
  if (unknown.length === 0) return message;
  const where = command === undefined ? '' : ` for ${command}`;
  return unknown
    .map((a) => {
      const name = a.replace(/^--?/, '').replace(/=.*$/, '');
      const meant = closest(name, known);
      return `unknown flag --${name}${where}${meant ? `; did you mean --${meant}?` : ''}`;
    })
    .join('\n  ');
}

function checkHeapMb(v: unknown): void {
  if (v === undefined) return;
  const n = typeof v === 'string' && /^\s*\d+\s*$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 64 || n > 1024 * 1024) throw usage('--max-heap-mb', v, 'an integer from 64 to 1048576');
}

function report(err: unknown, io: Io, doing: string): number {
  const text = userMessage(err);
  if (err instanceof EtlError && err.code === 'E_USAGE') {
    io.stderr.write(`orders-etl: ${text}\n`);
    return 2;
  }
  const code = err instanceof EtlError ? ` [${err.code}]` : '';
  io.stderr.write(`orders-etl: ${doing} failed${code}: ${text}\n`);
  return 1;
}

async function runLoadCommand(opts: LoadOptions, io: Io): Promise<number> {
  const note = (message: string) => io.stderr.write(`orders-etl: ${message}\n`);
  const sources = await resolveSources(opts.sources, {
    format: opts.format,
    s3: { region: opts.s3Region, endpoint: opts.s3Endpoint, stallTimeout: opts.s3StallTimeout, retries: opts.retries },
    note,
  });
  // Typed at a terminal, standard input never ends by itself: say how to end it instead of waiting silently.
  if (opts.sources.includes('-') && process.stdin.isTTY) note('reading orders from standard input (a terminal): end it with Ctrl-D');
  const warehouse = await openWarehouse(opts.db, { dbSslCa: opts.dbSslCa, retries: opts.retries, note });
  const progress = new Progress(opts.progress && io.stderr.isTTY ? io.stderr : null);
  let summary: LoadSummary;
  // A load committed whole whose finishing failed: its summary, then its error (exit 1).
  let unfinished: { error: unknown } | null = null;
  try {
    // The load's own notes come at its end: on a line of their own, not after the progress line.
    summary = await runLoad(sources, warehouse, opts, { progress, note: (m) => (progress.stop(), note(m)), onSource: io.onSource });
  } catch (err) {
    if (!(err instanceof UnfinishedLoad)) throw err;
    summary = err.summary;
    unfinished = { error: err.cause };
  } finally {
    progress.stop();
    await warehouse.close();
  }
  // A load committed whole whose end failed says so in its JSON too, with the error it exits 1 for.
  const failed = unfinished === null ? {} : { error: { code: unfinished.error instanceof EtlError ? unfinished.error.code : null, message: userMessage(unfinished.error) } };
  if (opts.json) io.stdout.write(`${JSON.stringify({ ...summary, ...failed })}\n`);
  io.stderr.write(humanSummary(summary, opts.dbFlags));
  if (unfinished !== null) throw unfinished.error;
  return 0;
}

async function runInit(db: string | undefined, dbSslCa: string | undefined, history: HistoryMode | undefined, lockSeconds: number, io: Io): Promise<number> {
  const warehouse = await openWarehouse(db, { dbSslCa, retries: DEFAULTS.retries, note: (m) => io.stderr.write(`orders-etl: ${m}\n`) });
  let mode: HistoryMode;
  try {
    // Like a load: init may migrate collations and rebuild the fact table's keys, which must not happen under
    // a load that dropped them (it holds the lock until it has built them again).
    await warehouse.lock(lockSeconds);
    mode = await warehouse.ensureSchema(history);
  } finally {
    await warehouse.close();
  }
  io.stderr.write(`orders-etl: schema ready in ${warehouse.location} (history: ${historyName(mode)})\n`);
  return 0;
}

function outputFormat(args: Args): OutputFormat {
  return args.json ? 'json' : args.csv ? 'csv' : 'table';
}

const QUERY_TABLE: TableOptions = { previewRows: DEFAULT_PREVIEW_ROWS };
/** In the table, long text is cut to fit a terminal; --json and --csv give it whole. */
const LOADS_TABLE: TableOptions = { previewRows: DEFAULT_PREVIEW_ROWS, cut: { source_uri: { width: 40, keep: 'end' }, error: { width: 60 } } };
const REJECTS_TABLE: TableOptions = {
  previewRows: DEFAULT_PREVIEW_ROWS,
  cut: { reason: { width: 50 }, raw: { width: 60 }, source_uri: { width: 40, keep: 'end' } },
};

/**
 * orders-etl query, loads and rejects: read-only (a missing warehouse is an error naming it, never an empty
 * one created on the way), the result streamed to standard output in the format asked for.
 */
async function runView(
  db: string | undefined,
  dbSslCa: string | undefined,
  format: OutputFormat,
  table: TableOptions,
  view: (w: Warehouse, sink: QuerySink) => Promise<void>,
  io: Io,
): Promise<number> {
  const warehouse = await openWarehouse(db, { dbSslCa, retries: 0, access: 'read' });
  const out = new Output(io.stdout);
  let stopped = false;
  io.onStoppable?.(() => {
    stopped = true;
    return warehouse.stopStatement();
  });
  try {
    const writer = resultWriter(format, out, table);
    await view(warehouse, writer);
    await writer.finish();
  } catch (err) {
    // However the query ended when its reader went away, or when it was stopped (Ctrl-C), it ends quietly.
    if (!out.readerGone && !stopped) throw err;
  } finally {
    io.onStoppable?.(null);
    out.close();
    await warehouse.close();
  }
  return 0;
}

/** Where the rejects of this run went: the command that shows them. */
function rejectsHint(s: LoadSummary, dbFlags: string): string {
  const ids = s.sources.filter((r) => r.counts.rejected > 0).map((r) => r.loadId);
  if (ids.length === 0) return '';
  return ` (see them: ${ids.map((id) => rejectsCommand(id, dbFlags)).join('; ')})`;
}

function humanSummary(s: LoadSummary, dbFlags = ''): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const skipped = s.skipped ? ` (${s.skipped} already loaded, skipped)` : '';
  return (
    `orders-etl: loaded ${s.files - s.skipped} of ${s.files} source(s)${skipped} into ${s.warehouse} in ${(s.elapsedMs / 1000).toFixed(1)} s\n` +
    `  orders ${n(s.orders)}, fact rows ${n(s.factRows)}, rejected ${n(s.rejected)}${rejectsHint(s, dbFlags)}\n` +
    `  customers +${n(s.customers.inserted)} new, ${n(s.customers.updated)} updated; products +${n(s.products.inserted)} new, ${n(s.products.updated)} updated\n`
  );
}

/**
 * yargs turns a flag given twice into an array of both values. Which --db (or --batch-size) was meant is not
 * for the engine to guess: every valued flag is taken once, and a second one is a usage error that shows
 * neither value (a --db holds a password).
 */
function checkGivenOnce(args: Args): void {
  for (const flags of [GLOBAL_FLAGS, LOAD_FLAGS, REJECTS_FLAGS]) {
    for (const [name, o] of Object.entries(flags)) {
      const v = args[name];
      if (o.type === 'string' && Array.isArray(v)) throw new EtlError('E_USAGE', `--${name}: given ${v.length} times; give it once`);
    }
  }
}

/** The SQL of `orders-etl query`: some text, at least (an empty one once failed with DuckDB's "Error in native callback"). */
function querySql(sql: unknown): string {
  if (typeof sql !== 'string' || !/\S/.test(sql)) throw new EtlError('E_USAGE', 'query: the SQL is empty; give one statement, e.g. "SELECT * FROM customers LIMIT 10"');
  return sql;
}

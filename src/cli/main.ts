/**
 * The command line: yargs only. argv -> options -> run; no pipeline logic here.
 * Exit codes: 0 success, 1 the load failed, 2 bad usage.
 */
import yargs, { type Argv } from 'yargs';
import { EtlError, redact } from '../errors.ts';
import { DEFAULTS, loadId, normalizeLoadOptions, usage, type LoadOptions } from '../options.ts';
import { runLoad, type LoadSummary } from '../pipeline/load.ts';
import { Progress } from '../pipeline/progress.ts';
import { resolveSources } from '../sources/resolve.ts';
import { openWarehouse } from '../warehouse/index.ts';
import type { QuerySink, Warehouse } from '../warehouse/types.ts';
import { DEFAULT_PREVIEW_ROWS, Output, resultWriter, type OutputFormat, type TableOptions } from './output.ts';

export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
}

const defaultIo: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env };

/** yargs drops a lone `-`; it stands for standard input, so it travels under another name through yargs. */
const STDIN_ARG = '\u0000stdin';

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode = 0;
  let failure: unknown = null;
  /** What failed, in the message of a failure: `load failed`, `query failed`. */
  let doing = 'load';
  const run = (args: { maxHeapMb?: unknown }, work: () => Promise<number>, what = 'load') => async () => {
    doing = what;
    try {
      // bin/orders-etl.js applies --max-heap-mb to the worker it starts; a value it cannot apply is refused here.
      checkHeapMb(args.maxHeapMb);
      exitCode = await work();
    } catch (err) {
      failure = err;
    }
  };
  const parser = yargs()
    .scriptName('orders-etl')
    .usage('$0 <command> [options]\n\nStreams nested order exports (JSON, NDJSON, gzip; files, stdin, S3) into a MySQL star schema.')
    .env(false)
    .strict()
    .exitProcess(false)
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    .option('db', {
      type: 'string',
      describe: 'Warehouse: mysql://user:password@host:3306/database or duckdb:<file> (env ORDERS_ETL_DB; default duckdb:./warehouse.duckdb). MySQL URL parameters: ssl-mode, ssl-ca',
    })
    .option('max-heap-mb', { type: 'number', default: 160, describe: 'Heap limit of the engine in MB, 64 or more (memory is bounded by the batch size; this is the cap)' })
    .option('db-ssl-ca', { type: 'string', describe: 'PEM file of the CA for TLS to MySQL; turns TLS on with certificate verification' })
    .command(
      'load <sources..>',
      'Load exports into the warehouse (first load and incremental loads alike)',
      (y) =>
        y
          .positional('sources', { type: 'string', array: true, describe: 'Files, s3://bucket/key, s3://bucket/prefix/ or - for stdin, loaded in the order given' })
          .option('batch-size', { type: 'number', default: DEFAULTS.batchSize, describe: 'Orders per batch; each batch commits atomically' })
          .option('format', { type: 'string', choices: ['auto', 'json', 'ndjson'], describe: 'Input format (default: from the file name, else sniffed)' })
          .option('records-path', {
            type: 'string',
            describe: 'Dotted path to the array of orders in an export wrapped in an object, e.g. orders for {"orders": [...]}, data.orders for {"data": {"orders": [...]}} (a dot inside a key: \\.)',
          })
          .option('parser', { type: 'string', choices: ['scanner', 'stream-json'], default: 'scanner', describe: 'JSON parser: the structural scanner (fast) or stream-json' })
          .option('force', { type: 'boolean', default: false, describe: 'Load sources the ledger says are already loaded' })
          .option('max-rejects', { type: 'number', default: DEFAULTS.maxRejects, describe: 'Fail the load when more records than this are invalid' })
          .option('max-record-bytes', { type: 'number', default: DEFAULTS.maxRecordBytes, describe: 'Fail on a single record larger than this' })
          .option('max-inflate-ratio', { type: 'number', default: DEFAULTS.maxInflateRatio, describe: 'Fail when gzip expands more than this ratio' })
          .option('max-inflated-bytes', { type: 'number', default: DEFAULTS.maxInflatedBytes, describe: 'Fail when one gzip source expands beyond this many bytes' })
          .option('lock-timeout', { type: 'number', default: DEFAULTS.lockTimeout, describe: 'Seconds to wait while another load holds the warehouse' })
          .option('retries', { type: 'number', default: DEFAULTS.retries, describe: 'Retries of a batch after a lost connection or deadlock' })
          .option('json', { type: 'boolean', default: false, describe: 'Print one JSON summary object on stdout' })
          .option('progress', { type: 'boolean', default: true, describe: 'Show a progress line on stderr when it is a terminal (--no-progress: never)' })
          .option('s3-region', { type: 'string', describe: 'AWS region of the bucket (default: from the AWS configuration)' })
          .option('s3-endpoint', { type: 'string', describe: 'S3-compatible endpoint URL, path-style (env AWS_ENDPOINT_URL)' })
          .option('s3-stall-timeout', { type: 'number', default: DEFAULTS.s3StallTimeout, describe: 'Seconds without a byte before an S3 body is resumed' }),
      (args) =>
        run(args, () => {
          const sources = (args.sources ?? []).map((s) => (s === STDIN_ARG ? '-' : s));
          return runLoadCommand(normalizeLoadOptions({ ...args, sources } as Record<string, unknown>, io.env), io);
        })(),
    )
    .command(
      'init',
      'Create the star schema, the load ledger and the rejects table (load creates what is missing, too)',
      (y) => y,
      (args) => run(args, () => runInit(args.db ?? io.env.ORDERS_ETL_DB, args.dbSslCa, io))(),
    )
    .command(
      'query <sql>',
      'Run SQL against the warehouse (read-only) and print the result: a table (the first 1000 rows), or every row as JSON lines or CSV',
      (y) => formatOptions(y.positional('sql', { type: 'string', describe: 'The statement, e.g. "SELECT * FROM customers LIMIT 10"' })),
      (args) => run(args, () => runView(args.db ?? io.env.ORDERS_ETL_DB, args.dbSslCa, outputFormat(args), QUERY_TABLE, (w, sink) => w.streamQuery(args.sql!, sink), io), 'query')(),
    )
    .command(
      'loads',
      'The load ledger: every source load, newest first, with its status, records, counts, rejects, times and error',
      (y) => formatOptions(y),
      (args) => run(args, () => runView(args.db ?? io.env.ORDERS_ETL_DB, args.dbSslCa, outputFormat(args), LOADS_TABLE, (w, sink) => w.streamLoads(sink), io), 'query')(),
    )
    .command(
      'rejects',
      'Records quarantined as invalid: load, record index, byte offset, reason and the raw record (cut to fit in the table)',
      (y) => formatOptions(y).option('load', { type: 'string', describe: 'Only the rejects of this load (its load_id in orders-etl loads)' }),
      (args) =>
        run(
          args,
          () => {
            const only = args.load === undefined ? null : loadId(args.load);
            return runView(args.db ?? io.env.ORDERS_ETL_DB, args.dbSslCa, outputFormat(args), REJECTS_TABLE, (w, sink) => w.streamRejects(only, sink), io);
          },
          'query',
        )(),
    )
    .demandCommand(1, 'Give a command: load, init, query, loads or rejects')
    .help()
    .alias('h', 'help')
    .version(false);
  // With a callback, yargs hands help and usage text to us instead of printing it, and waits for the handler.
  const args = argv.map((a) => (a === '-' ? STDIN_ARG : a));
  const { err, output } = await new Promise<{ err: Error | null; output: string }>((resolve) => {
    void parser.parse(args, {}, (e, _argv, out) => resolve({ err: e ?? null, output: out }));
  });
  if (failure) return report(failure, io, doing);
  if (err) {
    io.stderr.write(`orders-etl: ${err.message}\nRun orders-etl --help for usage.\n`);
    return 2;
  }
  if (output) io.stdout.write(`${output}\n`);
  return exitCode;
}

function checkHeapMb(v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 64 || v > 1024 * 1024) throw usage('--max-heap-mb', v, 'an integer from 64 to 1048576');
}

function report(err: unknown, io: Io, doing: string): number {
  if (err instanceof EtlError && err.code === 'E_USAGE') {
    io.stderr.write(`orders-etl: ${redact(err.message)}\n`);
    return 2;
  }
  const msg = err instanceof Error ? err.message : String(err);
  const code = err instanceof EtlError ? ` [${err.code}]` : '';
  io.stderr.write(`orders-etl: ${doing} failed${code}: ${redact(msg)}\n`);
  return 1;
}

async function runLoadCommand(opts: LoadOptions, io: Io): Promise<number> {
  const sources = await resolveSources(opts.sources, {
    format: opts.format,
    s3: { region: opts.s3Region, endpoint: opts.s3Endpoint, stallTimeout: opts.s3StallTimeout, retries: opts.retries },
    note: (msg) => io.stderr.write(`orders-etl: ${msg}\n`),
  });
  const warehouse = await openWarehouse(opts.db, { dbSslCa: opts.dbSslCa, retries: opts.retries, note: (m) => io.stderr.write(`orders-etl: ${m}\n`) });
  const progress = new Progress(opts.progress && io.stderr.isTTY ? io.stderr : null);
  let summary: LoadSummary;
  try {
    summary = await runLoad(sources, warehouse, opts, { progress });
  } finally {
    progress.stop();
    await warehouse.close();
  }
  if (opts.json) io.stdout.write(`${JSON.stringify(summary)}\n`);
  io.stderr.write(humanSummary(summary, opts.db));
  return 0;
}

async function runInit(db: string | undefined, dbSslCa: string | undefined, io: Io): Promise<number> {
  const warehouse = await openWarehouse(db, { dbSslCa, retries: DEFAULTS.retries, note: (m) => io.stderr.write(`orders-etl: ${m}\n`) });
  try {
    await warehouse.ensureSchema();
  } finally {
    await warehouse.close();
  }
  io.stderr.write(`orders-etl: schema ready in ${warehouse.location}\n`);
  return 0;
}

/** --json and --csv, for every command that prints rows. */
function formatOptions<T>(y: Argv<T>) {
  return y
    .option('json', { type: 'boolean', describe: 'Print every row as a JSON object, one per line' })
    .option('csv', { type: 'boolean', describe: 'Print every row as CSV (RFC 4180, a header line, LF line ends)' })
    .conflicts('json', 'csv');
}

function outputFormat(args: { json?: boolean; csv?: boolean }): OutputFormat {
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
  try {
    const writer = resultWriter(format, out, table);
    await view(warehouse, writer);
    await writer.finish();
  } finally {
    out.close();
    await warehouse.close();
  }
  return 0;
}

/** Where the rejects of this run went: the command that shows them. */
function rejectsHint(s: LoadSummary, db: string | undefined): string {
  const ids = s.sources.filter((r) => r.counts.rejected > 0).map((r) => r.loadId);
  if (ids.length === 0) return '';
  const where = db === undefined ? '' : ` --db ${s.warehouse}`;
  return ` (see them: ${ids.map((id) => `orders-etl rejects --load ${id}${where}`).join('; ')})`;
}

function humanSummary(s: LoadSummary, db?: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const skipped = s.skipped ? ` (${s.skipped} already loaded, skipped)` : '';
  return (
    `orders-etl: loaded ${s.files - s.skipped} of ${s.files} source(s)${skipped} into ${s.warehouse} in ${(s.elapsedMs / 1000).toFixed(1)} s\n` +
    `  orders ${n(s.orders)}, fact rows ${n(s.factRows)}, rejected ${n(s.rejected)}${rejectsHint(s, db)}\n` +
    `  customers +${n(s.customers.inserted)} new, ${n(s.customers.updated)} updated; products +${n(s.products.inserted)} new, ${n(s.products.updated)} updated\n`
  );
}

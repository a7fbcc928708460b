/**
 * Wiring: source -> decode -> parse -> split -> batch -> warehouse, one source after another, in the order
 * given. Every stage is a stream joined by stream/promises.pipeline, so the database's pace reaches the
 * reader: memory is bounded by the batch size, not by the file.
 *
 * One error path for every stage. Whatever fails (reading, S3, gunzip, parsing, a record limit, the
 * database), the pipeline is torn down and then, strictly in this order: the batch in flight finishes or
 * rolls back (pipeline() rejects as soon as a stream errors, without waiting for its last function, so the
 * sink is awaited explicitly); the failure is recorded in the ledger; runLoad restores the fact table's keys;
 * the caller closes the warehouse. The warehouse itself also runs one operation at a time, so nothing can
 * interleave with an open transaction.
 */
import { Writable } from 'node:stream';
import { PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import pLimit from 'p-limit';
import { pipeline } from 'node:stream/promises';
import { EtlError, redact, shellWord, userMessage } from '../errors.ts';
import { LIMITS, type Batch, type InputFormat, type Rejection } from '../model.ts';
import type { LoadOptions } from '../options.ts';
import { ARRAY_NOT_LINES, formatRecordsPath } from '../parse/shape.ts';
import { parseStage } from '../parse/stream.ts';
import { DecodeStream } from '../sources/decode.ts';
import { formatFromName, type Source, type SourceInfo } from '../sources/types.ts';
import { SplitOrdersStream } from '../transform/stream.ts';
import { addCounts, zeroCounts, type LoadCounts, type SourceIdentity, type Warehouse } from '../warehouse/types.ts';
import { BatchStream } from './batch.ts';
import { ByteCounter, Progress } from './progress.ts';

export interface SourceReport {
  uri: string;
  /** Its ledger entry (etl_loads.load_id): what `orders-etl rejects --load N` takes. */
  loadId: number;
  status: 'loaded' | 'skipped';
  resumedFrom: number;
  counts: LoadCounts;
}

export interface LoadSummary {
  files: number;
  skipped: number;
  orders: number;
  factRows: number;
  customers: { inserted: number; updated: number };
  products: { inserted: number; updated: number };
  rejected: number;
  bytes: number;
  elapsedMs: number;
  /**
   * Where the time went: parsing and splitting run while the database works, so they overlap with it.
   * `databaseMs` is the writer's own wall time, batch after batch; `databaseSteps` are its parts, beside
   * `plan ahead` (planning a batch while the one before it is written), `drop history keys` (before the first
   * batch), `replace redelivered orders`, `move deferred facts`, `build history keys` and `build fact keys`
   * (after the last one).
   */
  stages: { parseMs: number; transformMs: number; databaseMs: number; databaseSteps: Record<string, number> };
  /** Peak resident memory of the process so far, in MB. */
  peakRssMb: number;
  /** CPU of the whole process during the load (every thread, DuckDB's native ones included), in ms. */
  cpu: { userMs: number; systemMs: number };
  /** Time spent in garbage collection by the engine's JavaScript (its thread's heap) during the load, in ms. */
  gcMs: number;
  /** Warehouse operations retried on a fresh connection after a transient failure. */
  retries: number;
  warehouse: string;
  sources: SourceReport[];
}

export type LoadTuning = Pick<
  LoadOptions,
  'batchSize' | 'parser' | 'force' | 'maxRejects' | 'maxRecordBytes' | 'maxInflateRatio' | 'maxInflatedBytes' | 'lockTimeout' | 'keepFactKeys' | 'history'
> & { recordsPath?: LoadOptions['recordsPath']; dbFlags?: LoadOptions['dbFlags'] };

export interface LoadHooks {
  progress?: Progress;
  /** A line for the user that does not change the outcome (stderr in the CLI). */
  note?: (message: string) => void;
  /**
   * Told each source as its reading starts, and whether a re-run resumes it (a ledger position: not stdin or a
   * pipe). bin/orders-etl.js names it if the engine runs out of memory.
   */
  onSource?: (uri: string, resumable: boolean) => void;
}

/** Sums the garbage collector's pauses on this thread from now until stop(), which returns the total in ms. */
function gcTimer(): { stop(): number } {
  let ms = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) ms += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      // Entries still queued for the callback are delivered by takeRecords().
      for (const entry of observer.takeRecords()) ms += entry.duration;
      observer.disconnect();
      return ms;
    },
  };
}

/**
 * How far V8 lets the old generation grow past what a full collection kept before it starts the next one, in
 * percent, for a load into a history warehouse, and for any load into a warehouse whose data lives outside the
 * process (WarehouseCapabilities.growHeap: MySQL) (0: V8's own choice, the default).
 *
 * Under the heap's cap (--max-heap-mb, 160 MB) V8 grows it by a small factor: in a history first load of 1 M
 * orders each full collection started at about 1.5 times what the one before kept (67 against 45 MB on
 * average), 83 to 94 times, each with a marking thread on the second core, which DuckDB or MariaDB needs (a
 * history load's heap holds every key's versions and days). At 100 (a factor of 2) it collected 40 times; the
 * cap stays what it is, and a heap that reaches it is collected as before. Measured by hand (2026-11-30, the
 * bench's data, runs taking turns): the DuckDB history first load a median 29.4 s against 32.8 s (seven runs
 * each), the process's user CPU 38 to 42 s against 42 to 53 s, peak RSS 15 to 30 MB higher; the DuckDB history
 * increment of 200 k on 1 M 28.0 and 27.5 s against 33.7 and 35.2 s; the MariaDB history first load 50.0 and
 * 41.9 s against 45.0 and 50.1 s (bound by the server; user CPU 28 to 30 s against 36 to 38 s), peak RSS 270
 * to 282 MB against 244 to 251 MB. Not for DuckDB SCD1 warehouses, whose buffers share the process's memory: a
 * first load of 1 M took 323 to 328 MB peak RSS (its budget is 320 MB, bench/RESULTS.md) against 291 to 296 MB,
 * for 9.0 s against 9.8 to 9.9 s (2026-12-01, by hand), and an SCD1 increment gained about 5%. MySQL SCD1 loads
 * grow it since 2026-12-01: there the heap is most of the process, and its full collections took the second
 * core from the server; by hand (the bench's data, runs taking turns), a first load of 1 M 12.8 and 13.3 s
 * against 14.8 and 14.9 s (user CPU 8.6 to 8.9 s against 11.8 to 11.9 s), peak RSS 197 to 206 MB against 177
 * to 178 MB; of 3 M 43.3 s against 46.7 s, 222 MB against 207 MB (the budget: 256 MB at every size).
 *
 * V8's flags are the process's, and this one is read at every full collection (checked with --trace-gc): set
 * when such a load's first batch is read, back to V8's own choice (0) after its last batch, before the load
 * finishes (the MariaDB rewrite of the fact table weighs the heap still free). Not when node was started with
 * --heap-growing-percent (on its command line or in NODE_OPTIONS). Loads at once in one process (the CLI runs
 * one; a program may run several) share it: set by the first that writes batches, restored when the last of
 * them is done with it.
 */
const HEAP_GROWING_PERCENT = 100;

/** Loads of this process that grow the heap, writing their batches now. */
let heapGrowers = 0;

/** Sets HEAP_GROWING_PERCENT for a load that `grows`, unless node was started with a growth of its own. */
function heapGrowth(grows: boolean): { restore(): void } {
  const own = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--heap[-_]growing[-_]percent\b/.test(a));
  if (!grows || own) return { restore() {} };
  if (heapGrowers++ === 0) setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  let restored = false;
  return {
    restore() {
      if (restored) return;
      restored = true;
      if (--heapGrowers === 0) setFlagsFromString('--heap-growing-percent=0');
    },
  };
}

/** HEAD requests (or stat calls) in flight at once while checking sources. */
const SOURCE_INFO_CONCURRENCY = 8;

export async function runLoad(sources: Source[], warehouse: Warehouse, opts: LoadTuning, hooks: LoadHooks = {}): Promise<LoadSummary> {
  const started = Date.now();
  const cpuAtStart = process.cpuUsage();
  // The ledger keeps a source's name, and MySQL's column has a size: refused here alike on every warehouse,
  // before anything is loaded (a load failed at such a source once, after the ones before it).
  for (const s of sources) {
    if (s.uri.length > LIMITS.sourceUriChars && [...s.uri].length > LIMITS.sourceUriChars) {
      throw new EtlError('E_SOURCE', `a source's name is longer than the ${LIMITS.sourceUriChars} characters the load ledger keeps: give it by a shorter path (a symbolic link, or from a folder nearer to it)`, { source: s.uri });
    }
  }
  // Fail fast: every source must exist and be readable before anything is written. A prefix may hold
  // thousands of objects: their HEAD requests go out a few at a time, not one after another.
  const limit = pLimit(SOURCE_INFO_CONCURRENCY);
  const infos = await Promise.all(sources.map((s) => limit(() => s.info())));
  if (hooks.progress) hooks.progress.totalBytes = infos.every((i) => i.size !== null) ? infos.reduce((a, i) => a + i.size!, 0) : null;
  // Nothing to load (a prefix with no export under it yet): nothing is written, not even the schema, and the
  // warehouse is not opened (a DuckDB file or a MySQL database would be created).
  if (sources.length === 0) return measured(await loadSources([], [], warehouse, opts, hooks), warehouse, started, cpuAtStart, 0);
  await warehouse.lock(opts.lockTimeout);
  const mode = await warehouse.ensureSchema(opts.history, true);
  await warehouse.beginLoad({
    sources: sources.map((s, i) => ({ source: identity(s, infos[i]!, opts), bytes: infos[i]!.size })),
    force: opts.force,
    keepFactKeys: opts.keepFactKeys,
  });
  let summary: LoadSummary;
  // GC pauses from here on: the sources' checks and the schema before are I/O, and nothing before may leave the
  // observer behind when it fails.
  const gc = gcTimer();
  // While batches are written only: finishing (the MariaDB rewrite weighs the heap still free) has V8's own.
  const heap = heapGrowth(mode.customers || mode.products || warehouse.capabilities.growHeap);
  try {
    summary = await loadSources(sources, infos, warehouse, opts, hooks);
  } catch (err) {
    heap.restore();
    // Undo beginLoad either way, but the load's own error is the one to report. Finishing may fail too (the
    // connection the load lost, say): the deferred fact moves and the fact keys then wait for the next load or
    // init, which moves the facts before it loads and builds the keys (before it loads, or at its end when it
    // drops them itself); the user hears of it beside the load's error.
    await warehouse.endLoad().catch((e: unknown) => {
      try {
        hooks.note?.(`finishing the failed load also failed (${describe(e)}); the next load or init finishes it`);
      } catch {
        // A note that cannot be written must not take the place of the load's error.
      }
    });
    gc.stop();
    throw err;
  }
  heap.restore();
  // Every source is committed and marked loaded: a failure to finish (the fact keys not built in time,
  // E_LOCK; a lost connection) still gets the summary of what was loaded, beside its error.
  const unfinished = await warehouse.endLoad().then(
    () => null,
    (error: unknown) => ({ error }),
  );
  measured(summary, warehouse, started, cpuAtStart, gc.stop());
  if (unfinished !== null) throw new UnfinishedLoad(summary, unfinished.error);
  return summary;
}

/** The summary with what the load took: time, CPU, GC, memory, the warehouse's steps and retries. */
function measured(summary: LoadSummary, warehouse: Warehouse, started: number, cpuAtStart: NodeJS.CpuUsage, gcMs: number): LoadSummary {
  const cpu = process.cpuUsage(cpuAtStart);
  summary.cpu = { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) };
  summary.gcMs = Math.round(gcMs);
  summary.elapsedMs = Date.now() - started;
  summary.stages.databaseMs = Math.round(warehouse.writerMs);
  summary.stages.databaseSteps = Object.fromEntries(Object.entries(warehouse.timings).map(([k, v]) => [k, Math.round(v)]));
  summary.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  summary.retries = warehouse.retries;
  return summary;
}

/**
 * A load whose every batch is committed and every source marked loaded, and whose finishing failed (endLoad:
 * deferred fact moves, the fact keys built again): `cause` is that failure, which the next load or init
 * finishes; `summary` is what was loaded.
 */
export class UnfinishedLoad extends Error {
  override readonly name = 'UnfinishedLoad';
  constructor(
    readonly summary: LoadSummary,
    override readonly cause: unknown,
  ) {
    super(`the load is committed, and finishing it failed: ${describe(cause)}`, { cause });
  }
}

async function loadSources(
  sources: Source[],
  infos: SourceInfo[],
  warehouse: Warehouse,
  opts: LoadTuning,
  hooks: LoadHooks,
): Promise<LoadSummary> {
  const progress = hooks.progress;

  const total = zeroCounts();
  const stages = { parseMs: 0, transformMs: 0 };
  const reports: SourceReport[] = [];
  let bytes = 0;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    const plan = await warehouse.planSource(identity(source, infos[i]!, opts), opts.force);
    if (plan.action === 'skip') {
      reports.push({ uri: source.uri, loadId: plan.loadId, status: 'skipped', resumedFrom: 0, counts: zeroCounts() });
      if (progress) progress.doneBytes += infos[i]!.size ?? 0;
      continue;
    }
    hooks.onSource?.(source.uri, infos[i]!.fingerprint !== null);
    const counts = zeroCounts();
    const counter = new ByteCounter();
    if (progress) progress.current = counter;
    const parse = parseStage(opts.parser, {
      format: source.format,
      source: source.uri,
      maxRecordBytes: opts.maxRecordBytes,
      recordsPath: opts.recordsPath ?? null,
      requireOrders: true,
    });
    const split = new SplitOrdersStream(plan.resumeFrom);
    // Rejects already committed by an interrupted attempt count against --max-rejects too.
    let rejectedSoFar = plan.counts.rejected;
    // Not the reject itself: its raw text may be megabytes.
    let firstReject: FirstReject | null = null;
    const sink = new BatchSink(async (batch) => {
      const before = rejectedSoFar;
      rejectedSoFar += batch.rejects.length;
      const r = batch.rejects[0];
      if (!firstReject && r) firstReject = { reason: r.reason, arrayRecord: r.arrayRecord };
      if (rejectedSoFar > opts.maxRejects) throw maxRejectsError(opts.maxRejects, source.uri, batch.rejects[opts.maxRejects - before]);
      const c = await warehouse.applyBatch(plan.loadId, batch);
      addCounts(counts, c);
      if (progress) progress.orders += c.orders;
    });
    try {
      // Lowering --max-rejects below what an interrupted attempt already committed: say so before any work.
      if (rejectedSoFar > opts.maxRejects) throw maxRejectsError(opts.maxRejects, source.uri, undefined, rejectedSoFar);
      await pipeline(
        source.open(),
        counter,
        new DecodeStream(source.uri, { maxRatio: opts.maxInflateRatio, maxBytes: opts.maxInflatedBytes }),
        parse,
        split,
        new BatchStream(opts.batchSize ?? warehouse.capabilities.defaultBatchSize),
        sink,
      );
    } catch (err) {
      await sink.settled();
      const e = asLoadError(err, source.uri);
      await warehouse.finishSource(plan.loadId, 'failed', userMessage(e)).catch(() => {});
      throw e;
    }
    // Records, and not one of them an order: the wrong file or a wrapped export read as one record, not a
    // few bad records, whatever --max-rejects allows. Its rejects stay committed, to be looked at.
    const orders = plan.counts.orders + counts.orders;
    const rejected = plan.counts.rejected + counts.rejected;
    if (orders === 0 && rejected > 0) {
      const e = allRejectedError(source.uri, rejected, firstReject, plan.loadId, opts.dbFlags ?? ` --db ${shellWord(warehouse.location)}`, source.format);
      await warehouse.finishSource(plan.loadId, 'failed', userMessage(e)).catch(() => {});
      throw e;
    }
    await warehouse.finishSource(plan.loadId, 'completed');
    stages.parseMs += parse.busyMs;
    stages.transformMs += split.busyMs;
    bytes += counter.bytes;
    if (progress) {
      progress.doneBytes += counter.bytes;
      progress.current = null;
    }
    addCounts(total, counts);
    reports.push({ uri: source.uri, loadId: plan.loadId, status: 'loaded', resumedFrom: plan.resumeFrom, counts });
  }
  return {
    files: sources.length,
    skipped: reports.filter((r) => r.status === 'skipped').length,
    orders: total.orders,
    factRows: total.factRows,
    customers: { inserted: total.customersInserted, updated: total.customersUpdated },
    products: { inserted: total.productsInserted, updated: total.productsUpdated },
    rejected: total.rejected,
    bytes,
    elapsedMs: 0, // set by runLoad, after endLoad
    stages: {
      parseMs: Math.round(stages.parseMs),
      transformMs: Math.round(stages.transformMs),
      databaseMs: 0, // set by runLoad: the writer's own time (batches overlap, so not timed here)
      databaseSteps: {}, // set by runLoad, after endLoad
    },
    peakRssMb: 0, // set by runLoad
    cpu: { userMs: 0, systemMs: 0 }, // set by runLoad
    gcMs: 0, // set by runLoad
    retries: 0, // set by runLoad
    warehouse: warehouse.location,
    sources: reports,
  };
}

/**
 * Batches handed to the warehouse before the one before them has committed: it plans the next while the
 * database works on the last (SqlWarehouse.applyBatch), and commits them strictly in order.
 */
const BATCHES_IN_FLIGHT = 2;

/**
 * The last stage: hands batches to the warehouse, up to BATCHES_IN_FLIGHT at a time, and remembers them so
 * that a failure elsewhere in the pipeline can wait for them to commit or roll back before anything else
 * touches the warehouse. A failed batch fails the stage at once.
 */
class BatchSink extends Writable {
  private readonly inFlight = new Set<Promise<void>>();

  constructor(apply: (batch: Batch) => Promise<void>) {
    super({
      objectMode: true,
      highWaterMark: 1,
      write: (batch: Batch, _enc, cb) => {
        const done = apply(batch);
        this.inFlight.add(done);
        done.then(
          () => this.inFlight.delete(done),
          (err: Error) => {
            this.inFlight.delete(done);
            this.destroy(err);
          },
        );
        if (this.inFlight.size < BATCHES_IN_FLIGHT) cb();
        else Promise.race(this.inFlight).then(() => cb(), () => {});
      },
      final: (cb) => {
        Promise.all(this.inFlight).then(() => cb(), cb);
      },
    });
  }

  /** Resolves once every batch handed over has committed or failed. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}

/** `over`: the invalid record one past the limit (the error names it); none: an earlier attempt's were too many. */
function maxRejectsError(max: number, uri: string, over: Batch['rejects'][number] | undefined, committed?: number): EtlError {
  if (!over) {
    return new EtlError('E_MAX_REJECTS', `an earlier attempt at this source already committed ${committed} invalid records, more than --max-rejects (${max}); raise it or load with --force`, { source: uri });
  }
  return new EtlError('E_MAX_REJECTS', `more than --max-rejects (${max}) invalid records; this record is the one over the limit: ${over.reason}`, {
    source: uri,
    recordIndex: over.index,
    ...(over.offset !== null ? { byteOffset: over.offset } : {}),
  });
}

/**
 * The source as the ledger knows it. Its framing (how records are found in its bytes) counts where it is not
 * what the name says: a load with another --records-path or --format is another source, never skipped as
 * loaded or resumed at a record index of the other framing (both once lost orders without an error).
 */
function identity(source: Source, info: SourceInfo, opts: Pick<LoadTuning, 'recordsPath'>): SourceIdentity {
  // The ledger's key is made of `framing` as it always was; `readWith` says the same to a reader.
  const framing: string[] = [];
  const flags: string[] = [];
  if (source.format !== (formatFromName(source.uri) ?? 'auto')) {
    framing.push(`format ${source.format}`);
    flags.push(`--format ${source.format}`);
  }
  if (opts.recordsPath) {
    framing.push(`records-path ${JSON.stringify(opts.recordsPath)}`);
    flags.push(`--records-path ${shellWord(formatRecordsPath(opts.recordsPath))}`);
  }
  return { uri: source.uri, fingerprint: info.fingerprint, framing: framing.length === 0 ? null : framing.join('\n'), readWith: flags.length === 0 ? null : flags.join(' ') };
}

/** The command that shows a load's rejects; `dbFlags`: options.commandFlags, so that it finds the same warehouse. */
export function rejectsCommand(loadId: number, dbFlags: string): string {
  return `orders-etl rejects --load ${loadId}${dbFlags}`;
}

/** What E_ALL_REJECTED tells of a source's first reject. */
type FirstReject = Pick<Rejection, 'reason' | 'arrayRecord'>;

/** `dbFlags`: the warehouse options of the command given (options.commandFlags), so that it finds the same one. */
function allRejectedError(uri: string, rejected: number, first: FirstReject | null, loadId: number, dbFlags: string, format: InputFormat): EtlError {
  // Written without credentials (the reason redacted here, dbFlags by construction), so that the command's
  // placeholders are not redacted again, on stderr or in the ledger (userMessage).
  const reason = first ? ` (the first: ${redact(first.reason)})` : '';
  // One record, an array, read as JSON Lines: the whole file is one JSON array.
  const array = rejected === 1 && format === 'ndjson' && first?.arrayRecord ? `; it is one JSON array read as JSON Lines: ${ARRAY_NOT_LINES}` : '';
  return new EtlError(
    'E_ALL_REJECTED',
    `every record (${rejected}) was rejected, none loaded: a source without one valid order is taken for the wrong file or shape, whatever --max-rejects allows${reason}${array}; see them with ${rejectsCommand(loadId, dbFlags)}`,
    { source: uri },
    { redacted: true },
  );
}

/** Errors that are not ours yet: a system error reading the source, or a bug (said as such). */
function asLoadError(err: unknown, uri: string): EtlError {
  if (err instanceof EtlError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && typeof e.syscall === 'string') {
    return new EtlError('E_SOURCE', `cannot read: ${e.message}`, { source: uri }, { cause: err });
  }
  return new EtlError('E_INTERNAL', `${uri}: ${e?.message ?? String(err)}`, {}, { cause: err });
}

/** An error for a note: its code where it has one, its message as the user may see it. */
function describe(err: unknown): string {
  return `${err instanceof EtlError ? `[${err.code}] ` : ''}${userMessage(err)}`;
}

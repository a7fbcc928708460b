/**
 * Wiring: source -> decode -> parse -> split -> batch -> warehouse, one source after another, in the order
 * given. Every stage is a stream joined by stream/promises.pipeline, so the database's pace reaches the
 * reader: memory is bounded by the batch size, not by the file.
 */
import { Writable } from 'node:stream';
import pLimit from 'p-limit';
import { pipeline } from 'node:stream/promises';
import { EtlError, redact } from '../errors.ts';
import type { LoadOptions } from '../options.ts';
import { isParseFailure, parseStage, type ParseFailure } from '../parse/stream.ts';
import { DecodeStream } from '../sources/decode.ts';
import type { Source, SourceInfo } from '../sources/types.ts';
import { SplitOrdersStream } from '../transform/stream.ts';
import { addCounts, zeroCounts, type LoadCounts, type Warehouse } from '../warehouse/types.ts';
import { BatchStream, type Batch } from './batch.ts';
import { ByteCounter, Progress } from './progress.ts';

export interface SourceReport {
  uri: string;
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
  /** Where the time went: parsing and splitting run while the database works, so they overlap with it. */
  stages: { parseMs: number; transformMs: number; databaseMs: number; databaseSteps: Record<string, number> };
  /** Peak resident memory of the process so far, in MB. */
  peakRssMb: number;
  warehouse: string;
  sources: SourceReport[];
}

export type LoadTuning = Pick<
  LoadOptions,
  'batchSize' | 'parser' | 'force' | 'maxRejects' | 'maxRecordBytes' | 'maxInflateRatio' | 'maxInflatedBytes' | 'lockTimeout'
>;

export interface LoadHooks {
  progress?: Progress;
}

/** HEAD requests (or stat calls) in flight at once while checking sources. */
const SOURCE_INFO_CONCURRENCY = 8;

export async function runLoad(sources: Source[], warehouse: Warehouse, opts: LoadTuning, hooks: LoadHooks = {}): Promise<LoadSummary> {
  const started = Date.now();
  // Fail fast: every source must exist and be readable before anything is written. A prefix may hold
  // thousands of objects: their HEAD requests go out a few at a time, not one after another.
  const limit = pLimit(SOURCE_INFO_CONCURRENCY);
  const infos = await Promise.all(sources.map((s) => limit(() => s.info())));
  if (hooks.progress) hooks.progress.totalBytes = infos.every((i) => i.size !== null) ? infos.reduce((a, i) => a + i.size!, 0) : null;
  await warehouse.lock(opts.lockTimeout);
  await warehouse.ensureSchema();
  await warehouse.beginLoad();
  let summary: LoadSummary;
  try {
    summary = await loadSources(sources, infos, warehouse, opts, hooks);
  } catch (err) {
    // Undo beginLoad either way, but the load's own error is the one to report.
    await warehouse.endLoad().catch(() => {});
    throw err;
  }
  await warehouse.endLoad();
  summary.elapsedMs = Date.now() - started;
  summary.stages.databaseSteps = Object.fromEntries(Object.entries(warehouse.timings).map(([k, v]) => [k, Math.round(v)]));
  summary.peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
  return summary;
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
  const stages = { parseMs: 0, transformMs: 0, databaseMs: 0 };
  const reports: SourceReport[] = [];
  let bytes = 0;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    const plan = await warehouse.planSource({ uri: source.uri, fingerprint: infos[i]!.fingerprint }, opts.force);
    if (plan.action === 'skip') {
      reports.push({ uri: source.uri, status: 'skipped', resumedFrom: 0, counts: zeroCounts() });
      if (progress) progress.doneBytes += infos[i]!.size ?? 0;
      continue;
    }
    const counts = zeroCounts();
    // Rejects already committed by an interrupted attempt count against --max-rejects too.
    let rejectedSoFar = plan.counts.rejected;
    const counter = new ByteCounter();
    if (progress) progress.current = counter;
    const writer = new Writable({
      objectMode: true,
      highWaterMark: 1,
      write: (batch: Batch | ParseFailure, _enc, cb) => {
        if (isParseFailure(batch)) {
          cb(batch.failure);
          return;
        }
        rejectedSoFar += batch.rejects.length;
        if (rejectedSoFar > opts.maxRejects) {
          const first = batch.rejects[0]!;
          cb(
            new EtlError('E_MAX_REJECTS', `more than --max-rejects (${opts.maxRejects}) invalid records; one of the last: ${first.reason}`, {
              source: source.uri,
              recordIndex: first.index,
              ...(first.offset !== null ? { byteOffset: first.offset } : {}),
            }),
          );
          return;
        }
        const t = performance.now();
        warehouse.applyBatch(plan.loadId, batch).then(
          (c) => {
            stages.databaseMs += performance.now() - t;
            addCounts(counts, c);
            if (progress) progress.orders += c.orders;
            cb();
          },
          (err: unknown) => cb(err as Error),
        );
      },
    });
    const parse = parseStage(opts.parser, { format: source.format, source: source.uri, maxRecordBytes: opts.maxRecordBytes });
    const split = new SplitOrdersStream(plan.resumeFrom);
    try {
      await pipeline(
        source.open(),
        counter,
        new DecodeStream(source.uri, { maxRatio: opts.maxInflateRatio, maxBytes: opts.maxInflatedBytes }),
        parse,
        split,
        new BatchStream(opts.batchSize),
        writer,
      );
    } catch (err) {
      const e = err instanceof EtlError ? err : new EtlError('E_SOURCE', `${source.uri}: ${(err as Error).message}`, {}, { cause: err });
      await warehouse.finishSource(plan.loadId, 'failed', redact(e.message)).catch(() => {});
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
    reports.push({ uri: source.uri, status: 'loaded', resumedFrom: plan.resumeFrom, counts });
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
      databaseMs: Math.round(stages.databaseMs),
      databaseSteps: {}, // set by runLoad, after endLoad
    },
    peakRssMb: 0, // set by runLoad
    warehouse: warehouse.location,
    sources: reports,
  };
}

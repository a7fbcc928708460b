/**
 * History dimensions (SCD Type 2) by business date: the rules, as pure functions, and what the engine keeps
 * of each natural key's history while it holds the warehouse.
 *
 * The time axis is the order date. Every order observes its customer, and every line its product, on that
 * date. For one natural key, the value of a day that has observations is the attributes of its last one in
 * load order; consecutive observed days with equal values are one version; a version is valid from its first
 * observed day until the next version starts (valid_to exclusive, NULL for the current one). So the history
 * of a key follows from two things, which is all that is stored: its versions (surrogate key, valid_from,
 * valid_to, attributes) and the days it was observed on (etl_<dimension>_days). A late observation is placed
 * among them: it changes nothing if it agrees with its day's version; otherwise the versions around it are
 * recomputed, and facts on the days whose version changed are pointed at the new one (by the batch, or by its
 * load at the end: SqlWarehouse.moveDeferredFacts).
 *
 * Surrogate keys after a recomputation: a new version keeps the key of the old version with the same
 * attributes it shares the most observed days with (ties: the earlier new version, then the earlier old
 * one), each old key kept once; any other new version gets a new key. So a version extended or shortened
 * keeps its key, and of the pieces a late observation cuts a version into, the larger keeps it: the fewest
 * facts move. Deterministic: the same loads in the same order give the same keys, after any crash and re-run.
 */

import { KeyIndex } from './keys.ts';

// Dates recur (an export spans some hundreds of days): both conversions are remembered.
const dayOfDate = new Map<string, number>();
const dateOfDay = new Map<number, string>();

/** Days since 1970-01-01 of a YYYY-MM-DD date: dates as numbers, for ordering and searching. */
export function epochDay(date: string): number {
  let day = dayOfDate.get(date);
  if (day === undefined) {
    day = Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 86_400_000;
    if (dayOfDate.size >= 100_000) dayOfDate.clear();
    dayOfDate.set(date, day);
  }
  return day;
}

export function dateOf(day: number): string {
  let date = dateOfDay.get(day);
  if (date === undefined) {
    date = new Date(day * 86_400_000).toISOString().slice(0, 10);
    if (dateOfDay.size >= 100_000) dateOfDay.clear();
    dateOfDay.set(day, date);
  }
  return date;
}

export interface HistoryVersion {
  /** valid_from, as an epoch day. */
  from: number;
  /** valid_to (exclusive), or null for the current version. */
  to: number | null;
  sk: number;
  /** attributeHash of the version's attributes. */
  hash: number;
}

/**
 * What is kept of one natural key: its versions (by valid_from) and its observed days (ascending). The store
 * hands its histories to the planner with the days as a view of its pool (KeyHistory<Days>): read, never written.
 */
export interface KeyHistory<D extends Days = number[]> {
  versions: HistoryVersion[];
  days: D;
}

/** Ascending epoch days, read only: an array, or a view of HistoryStore's pool (an Int32Array). */
export type Days = ArrayLike<number>;

/** One observation of a key: a day and the row that showed the attributes (in load order within the batch). */
export interface Observation<R> {
  day: number;
  /** Its attributes are read only for a version that is inserted: most observations change nothing. */
  row: R;
  hash: number;
}

/** A new version whose attributes are those of an observation of the batch (inserted with them). */
export interface InsertedVersion<R> {
  sk: number;
  from: number;
  to: number | null;
  row: R;
}

/** What an observation that changes no version changes: nothing, or its day is new (added to a copy of the days). */
const NOTHING: readonly never[] = [];

/** A new version whose attributes are those of a version kept from before (copied in the database). */
export interface CopiedVersion {
  sk: number;
  from: number;
  to: number | null;
  /** The kept version whose attributes it has. */
  src: number;
}

/** Facts of `from` <= order_date < `to` (null: no end) pointing at `oldSk` move to `newSk`. */
export interface Repoint {
  oldSk: number;
  from: number;
  to: number | null;
  newSk: number;
}

/** What a batch's observations of one key change. */
export interface KeyChange<R> {
  history: KeyHistory<Days>;
  inserts: readonly InsertedVersion<R>[];
  copies: readonly CopiedVersion[];
  /** Kept versions whose interval changed. */
  updates: readonly HistoryVersion[];
  /** Surrogate keys of versions that are gone. */
  deletes: readonly number[];
  repoints: readonly Repoint[];
  /** Days observed for the first time. */
  newDays: readonly number[];
}

/** The version in effect on `day`, or undefined before the first one. */
export function versionAt(history: KeyHistory<Days>, day: number): HistoryVersion | undefined {
  const at = versionIndexAt(history.versions, day);
  return at < 0 ? undefined : history.versions[at];
}

/** A run of days of equal attributes in a window of a key's history: a version after the batch. */
interface Run<R> {
  from: number;
  hash: number;
  sk: number;
  /** The old version whose key it keeps. */
  kept: HistoryVersion | null;
  /** The first observation of the batch among its days, if any. */
  row: R | null;
  /** The old version its first day belonged to (0 for a day observed for the first time). */
  src: number;
}

/**
 * Place a batch's observations of one key (in load order) in its history. `nextSk` hands out new surrogate
 * keys; it is called in the order of the new versions' valid_from.
 */
export function placeObservations<R>(old: KeyHistory<Days> | undefined, observations: Observation<R>[], nextSk: () => number): KeyChange<R> {
  const before = old ?? { versions: [], days: [] };
  // The common case, at little cost: one observation (or several of one day) that agrees with the version in
  // effect on its day. Its day, if new, is added to a copy of the days (the history's may be the store's).
  const last = observations[observations.length - 1]!;
  if (old !== undefined && observations.every((o) => o.day === last.day)) {
    const v = versionAt(old, last.day);
    if (v !== undefined && v.hash === last.hash) {
      const at = dayIndex(old.days, last.day);
      if (at >= 0) return { history: old, inserts: NOTHING, copies: NOTHING, updates: NOTHING, deletes: NOTHING, repoints: NOTHING, newDays: NOTHING };
      const newDays = [last.day];
      return { history: { versions: old.versions, days: mergeSorted(old.days, newDays) }, inserts: NOTHING, copies: NOTHING, updates: NOTHING, deletes: NOTHING, repoints: NOTHING, newDays };
    }
  }
  // The batch's days of this key, ascending, and their values after it (the last observation of a day wins
  // it): arrays, not a Map (this runs for every key a batch changes, most with a few observations).
  const { days: batchDays, observed } = lastByDay(observations);
  const newDays: number[] = [];
  let inPlace = true;
  for (let k = 0; k < batchDays.length; k++) {
    const day = batchDays[k]!;
    if (dayIndex(before.days, day) < 0) newDays.push(day);
    // A day whose value stays that of its version (an old day seen again alike, or a new day inside a version
    // with the same attributes) changes no version; anything else does.
    if (inPlace) {
      const v = versionAt(before, day);
      if (v === undefined || v.hash !== observed[k]!.hash) inPlace = false;
    }
  }
  const days = newDays.length === 0 ? before.days : mergeSorted(before.days, newDays);
  if (inPlace) return { history: { versions: before.versions, days }, inserts: [], copies: [], updates: [], deletes: [], repoints: [], newDays };

  // Recompute the versions around the batch's days: runs of equal values. Only the versions near a day of the
  // batch can change: the version in effect on it, the one before (a run may join it) and the one after. Those
  // of the batch's days that are near each other make one window of old versions; between and beyond the
  // windows, the runs are the old versions: each keeps its key (it shares all its days with itself and none
  // with another run) and moves no fact. A window's first day keeps its old value, unlike the version before
  // it, and so does its last, unlike the version after it: each window is recomputed on its own, in order, and
  // gives what recomputing the whole history would (tested against that: test/helpers/place-whole.ts). So the
  // work per key is its windows', not its whole history's (a product seen daily for years has hundreds of days).
  const prior = before.versions;
  const windows: [number, number][] = []; // [first, end) indexes into prior
  for (const day of batchDays) {
    const at = versionIndexAt(prior, day);
    const from = Math.max(0, at - 1);
    const end = Math.min(prior.length, at + 2);
    const w = windows[windows.length - 1];
    if (w && from <= w[1]) w[1] = Math.max(w[1], end);
    else windows.push([from, end]);
  }
  // The windows rest on what every history the engine writes keeps: a version starts on an observed day, and
  // versions next to each other differ. A history that does not (edited by hand) is recomputed whole, as it
  // was before windows, which gives it versions that do.
  const holds = (k: number) => k === 0 || k === prior.length || (prior[k - 1]!.hash !== prior[k]!.hash && dayIndex(before.days, prior[k]!.from) >= 0);
  if (!windows.every(([ws, we]) => holds(ws) && holds(we))) windows.splice(0, windows.length, [0, prior.length]);
  const versions: HistoryVersion[] = [];
  const inserts: InsertedVersion<R>[] = [];
  const copies: CopiedVersion[] = [];
  const updates: HistoryVersion[] = [];
  const deletes: number[] = [];
  const repoints: Repoint[] = [];
  let kept = 0; // prior[kept..] not yet in versions
  for (const [ws, we] of windows) {
    for (; kept < ws; kept++) versions.push(prior[kept]!);
    kept = we;
    const windowTo = we < prior.length ? prior[we]!.from : null;
    // Each day's value: the batch's last observation of it, else the old version it belonged to (a day
    // without one is an old day). Days ascend, so the old version in effect and the place among the old days
    // only move forward: no search and no object per day (products seen daily have hundreds of days).
    const runs: Run<R>[] = [];
    // Which old versions each run shares observed days with, and how many: its key is chosen from them below.
    const pairs: { run: Run<R>; order: number; o: HistoryVersion; shared: number }[] = [];
    const start = ws === 0 ? 0 : firstAtOrAfter(days, prior[ws]!.from);
    let vi = start < days.length ? versionIndexAt(prior, days[start]!) : -1;
    let bi = start < days.length ? firstAtOrAfter(before.days, days[start]!) : 0;
    let ki = start < days.length ? firstAtOrAfter(batchDays, days[start]!) : 0;
    for (let i = start; i < days.length; i++) {
      const day = days[i]!;
      if (windowTo !== null && day >= windowTo) break;
      while (vi + 1 < prior.length && prior[vi + 1]!.from <= day) vi++;
      while (bi < before.days.length && before.days[bi]! < day) bi++;
      const seen = bi < before.days.length && before.days[bi] === day;
      const v = prior[vi];
      while (ki < batchDays.length && batchDays[ki]! < day) ki++;
      const o = ki < batchDays.length && batchDays[ki] === day ? observed[ki] : undefined;
      const hash = o ? o.hash : v!.hash;
      const row = o ? o.row : null;
      let run = runs[runs.length - 1];
      if (!run || run.hash !== hash) {
        run = { from: day, hash, sk: 0, kept: null, row, src: seen ? v!.sk : 0 };
        runs.push(run);
      } else if (run.row === null) {
        run.row = row;
      }
      // An old day of the run's attributes: the run shares it with the old version it belonged to. That version
      // only moves forward with the days: it is the last pair's, or a new pair (in run order, then version order).
      if (seen && v!.hash === hash) {
        const p = pairs[pairs.length - 1];
        if (p !== undefined && p.run === run && p.o === v) p.shared++;
        else pairs.push({ run, order: runs.length - 1, o: v!, shared: 1 });
      }
    }
    // Keys: a run keeps the key of the old version with equal attributes it shares the most old days with, so
    // the fewest facts move (facts sit on observed days); ties go to the earlier run, then the earlier version.
    // Each old key is kept once.
    stableSort(pairs, (a, b) => b.shared - a.shared || a.order - b.order || a.o.from - b.o.from);
    const claimed = new Set<number>();
    for (const { run, o } of pairs) {
      if (run.kept !== null || claimed.has(o.sk)) continue;
      claimed.add(o.sk);
      run.kept = o;
    }
    for (const run of runs) run.sk = run.kept ? run.kept.sk : nextSk();
    const changed = runs.map((r, i): HistoryVersion => ({ from: r.from, to: i + 1 < runs.length ? runs[i + 1]!.from : windowTo, sk: r.sk, hash: r.hash }));
    versions.push(...changed);
    runs.forEach((run, i) => {
      const v = changed[i]!;
      if (run.kept) {
        if (run.kept.from !== v.from || run.kept.to !== v.to) updates.push(v);
        return;
      }
      // A new version: its attributes from an observation of the batch if one of its days has one, else those
      // of the old version its days belonged to (kept by an earlier run: see above).
      if (run.row !== null) inserts.push({ sk: v.sk, from: v.from, to: v.to, row: run.row });
      else copies.push({ sk: v.sk, from: v.from, to: v.to, src: run.src });
    });
    for (let k = ws; k < we; k++) {
      const o = prior[k]!;
      if (!claimed.has(o.sk)) deletes.push(o.sk);
      // Facts dated in o's old interval belong now to whichever new versions cover it. Facts sit on observed
      // days (every fact line is an observation of its key on its date, and its day is recorded when its batch
      // commits): an interval without a day observed before this batch holds no fact to move, and the fact
      // table is not searched for it.
      for (const v of changed) {
        if (v.sk === o.sk) continue;
        const from = Math.max(o.from, v.from);
        const to = minEnd(o.to, v.to);
        if ((to === null || from < to) && hasDayIn(before.days, from, to)) repoints.push({ oldSk: o.sk, from, to, newSk: v.sk });
      }
    }
  }
  for (; kept < prior.length; kept++) versions.push(prior[kept]!);
  return { history: { versions, days }, inserts, copies, updates, deletes, repoints, newDays };
}

/** The observations' days, ascending, each with its last observation in load order. */
function lastByDay<R>(observations: readonly Observation<R>[]): { days: number[]; observed: Observation<R>[] } {
  if (observations.length === 1) return { days: [observations[0]!.day], observed: [observations[0]!] };
  // A stable sort keeps load order within a day: the last of each run of a day is its last observation.
  const sorted = stableSort(observations.slice(), (a, b) => a.day - b.day);
  const days: number[] = [];
  const observed: Observation<R>[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const o = sorted[i]!;
    if (i + 1 < sorted.length && sorted[i + 1]!.day === o.day) continue;
    days.push(o.day);
    observed.push(o);
  }
  return { days, observed };
}

/**
 * `a` sorted in place, stably, by `compare`: short arrays (most here: a key's observations in one batch, the
 * pairs of a window) by insertion, which allocates nothing; Array.prototype.sort copies even those.
 */
function stableSort<T>(a: T[], compare: (x: T, y: T) => number): T[] {
  if (a.length > 16) return a.sort(compare);
  for (let i = 1; i < a.length; i++) {
    const x = a[i]!;
    let j = i - 1;
    for (; j >= 0 && compare(a[j]!, x) > 0; j--) a[j + 1] = a[j]!;
    a[j + 1] = x;
  }
  return a;
}

/** Where in `versions` (by valid_from) the version in effect on `day` is, or -1 before the first one. */
function versionIndexAt(versions: readonly HistoryVersion[], day: number): number {
  let lo = 0;
  let hi = versions.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (versions[mid]!.from <= day) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** Where the first of the ascending `days` on or after `from` is (days.length: none). */
function firstAtOrAfter(days: Days, from: number): number {
  let lo = 0;
  let hi = days.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (days[mid]! < from) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Whether the ascending `days` hold one in [from, to) (`to` null: no end). */
function hasDayIn(days: Days, from: number, to: number | null): boolean {
  const at = firstAtOrAfter(days, from);
  return at < days.length && (to === null || days[at]! < to);
}

/** Where `day` is in the ascending `days`, or -(where it would go) - 1. */
export function dayIndex(days: Days, day: number): number {
  let lo = 0;
  let hi = days.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (days[mid] === day) return mid;
    if (days[mid]! < day) lo = mid + 1;
    else hi = mid - 1;
  }
  return -lo - 1;
}

function minEnd(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function mergeSorted(a: Days, b: readonly number[]): number[] {
  const out: number[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/** valid_to of a current version, in the pools. */
const NO_END = 0x7fffffff;

/**
 * The histories of a history dimension's natural keys, in bounded memory (counted in versions and days):
 * complete while it holds every key of the table (then a key it does not know is new), else keys are looked
 * up in the warehouse per batch, as DimensionKeys does for SCD1.
 *
 * Compact, because a warehouse of some million orders has some hundred thousand keys and a few million observed
 * days: a key is a slot, and its versions and days are segments of typed-array pools (about 28 bytes a version
 * and 4 a day, outside the JavaScript heap) that grow in place while they can and move to the end when they
 * cannot; the space left behind is taken back by compaction. A key's history is materialized as a KeyHistory
 * only when a batch changes its versions, which few do.
 */
export class HistoryStore {
  private readonly capacity: number;
  private readonly slots = new KeyIndex();
  private readonly free: number[] = [];
  /** The slots that hold a key, oldest first from `head` (eviction takes the oldest). */
  private order: number[] = [];
  private head = 0;
  // Per slot: start, length and capacity of its versions and of its days.
  private slotV = new Int32Array(3 * 1024);
  private slotD = new Int32Array(3 * 1024);
  private slotCount = 0;
  // The versions' pool.
  private vFrom = new Int32Array(1024);
  private vTo = new Int32Array(1024);
  private vSk = new Float64Array(1024);
  private vHash = new Float64Array(1024);
  private vUsed = 0;
  private vLive = 0;
  // The days' pool.
  private dPool = new Int32Array(1024);
  private dUsed = 0;
  private dLive = 0;
  /** Versions and days held (what capacity counts). */
  private entries = 0;
  complete = false;
  maxSk = 0;
  private absent = new Set<string>();

  /** The most heap the keys' strings may take (KeyIndex.keyBytes): long natural keys go before `capacity` counts. */
  private readonly byteCapacity: number;

  constructor(capacity: number, byteCapacity = Infinity) {
    this.capacity = capacity;
    this.byteCapacity = byteCapacity;
  }

  /** The keys' strings take more heap than the store may give them (learning stops: learnHistory). */
  get overBytes(): boolean {
    return this.slots.keyBytes > this.byteCapacity;
  }

  get size(): number {
    return this.slots.size;
  }

  clear(): void {
    this.slots.clear();
    this.free.length = 0;
    this.order = [];
    this.head = 0;
    this.absent.clear();
    this.slotV = new Int32Array(3 * 1024);
    this.slotD = new Int32Array(3 * 1024);
    this.slotCount = 0;
    this.vFrom = new Int32Array(1024);
    this.vTo = new Int32Array(1024);
    this.vSk = new Float64Array(1024);
    this.vHash = new Float64Array(1024);
    this.dPool = new Int32Array(1024);
    this.vUsed = this.vLive = this.dUsed = this.dLive = this.entries = 0;
    this.complete = false;
    this.maxSk = 0;
  }

  /** One past the largest slot a key may have now (slots are small integers, reused after eviction). */
  get slotLimit(): number {
    return this.slotCount;
  }

  /** The key's slot, or -1. */
  slotOf(key: string): number {
    return this.slots.get(key);
  }

  has(key: string): boolean {
    return this.slots.get(key) >= 0;
  }

  /** The key's history, as a copy its owner may change and set back. */
  get(key: string): KeyHistory | undefined {
    const slot = this.slots.get(key);
    if (slot < 0) return undefined;
    const { versions, days: view } = this.history(slot);
    // Copied by hand: Array.from of a typed array goes through its iterator, an object per day.
    const days: number[] = new Array(view.length);
    for (let i = 0; i < view.length; i++) days[i] = view[i]!;
    return { versions, days };
  }

  /**
   * The history of the key at `slot`: its versions as objects of their own, its days as a view of the pool
   * (a product seen daily has hundreds: copying them for every batch that changes its versions allocated about
   * 0.2 GB of the 3.9 GB of the bench's history increment, by V8's sampling heap profiler). The view stays
   * what it is until this slot is written (setAt, addDay, learnDay, learned): a segment moves to the end of the
   * pool, or everything to new pools, and the place it leaves is never written again. Typed read-only (Days):
   * the pool is the store's.
   */
  history(slot: number): KeyHistory<Days> {
    const [vs, vn] = [this.slotV[3 * slot]!, this.slotV[3 * slot + 1]!];
    const versions: HistoryVersion[] = new Array(vn);
    for (let i = 0; i < vn; i++) {
      const to = this.vTo[vs + i]!;
      versions[i] = { from: this.vFrom[vs + i]!, to: to === NO_END ? null : to, sk: this.vSk[vs + i]!, hash: this.vHash[vs + i]! };
    }
    const ds = this.slotD[3 * slot]!;
    return { versions, days: this.dPool.subarray(ds, ds + this.slotD[3 * slot + 1]!) };
  }

  /** Where in the versions' pool the slot's version in effect on `day` is, or -1 before its first one. */
  versionAt(slot: number, day: number): number {
    const start = this.slotV[3 * slot]!;
    let lo = start;
    let hi = start + this.slotV[3 * slot + 1]! - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.vFrom[mid]! <= day) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  hashAt(version: number): number {
    return this.vHash[version]!;
  }

  skAt(version: number): number {
    return this.vSk[version]!;
  }

  /** Add an observed day to a key's history (its versions unchanged); false if it was known. */
  addDay(slot: number, day: number): boolean {
    const b = 3 * slot;
    let start = this.slotD[b]!;
    const n = this.slotD[b + 1]!;
    let lo = start;
    let hi = start + n - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const d = this.dPool[mid]!;
      if (d === day) return false;
      if (d < day) lo = mid + 1;
      else hi = mid - 1;
    }
    if (n === this.slotD[b + 2]!) {
      this.moveDays(slot, n + 1);
      lo += this.slotD[b]! - start;
      start = this.slotD[b]!;
    }
    this.dPool.copyWithin(lo + 1, lo, start + n);
    this.dPool[lo] = day;
    this.slotD[b + 1] = n + 1;
    this.entries++;
    return true;
  }

  /** Remember a key's history; past capacity the oldest keys go (unless `evict` is false, as for lookups). */
  set(key: string, history: KeyHistory<Days>, evict = true): void {
    let slot = this.slots.get(key);
    if (slot < 0) {
      if (evict) this.makeRoom();
      slot = this.newSlot(key);
    }
    this.setAt(slot, history);
  }

  /** Set the history of the key at `slot` (which holds a key now). */
  setAt(slot: number, history: KeyHistory<Days>): void {
    const { versions, days } = history;
    const b = 3 * slot;
    this.entries += versions.length + days.length - this.slotV[b + 1]! - this.slotD[b + 1]!;
    if (versions.length > this.slotV[b + 2]!) this.moveVersions(slot, versions.length, 0);
    let at = this.slotV[b]!;
    for (const v of versions) {
      this.vFrom[at] = v.from;
      this.vTo[at] = v.to === null ? NO_END : v.to;
      this.vSk[at] = v.sk;
      this.vHash[at] = v.hash;
      if (v.sk > this.maxSk) this.maxSk = v.sk;
      at++;
    }
    this.slotV[b + 1] = versions.length;
    // The slot's own days, as history() gave them: already there.
    if (days instanceof Int32Array && days.buffer === this.dPool.buffer && days.byteOffset === this.slotD[b]! * 4 && days.length === this.slotD[b + 1]!) return;
    if (days.length > this.slotD[b + 2]!) this.moveDays(slot, days.length, 0);
    this.dPool.set(days, this.slotD[b]!);
    this.slotD[b + 1] = days.length;
  }

  /** Learning the warehouse: one more version of a key (versions of a key in any order, see `learned`). */
  learnVersion(key: string, v: HistoryVersion): void {
    const found = this.slots.get(key);
    const slot = found >= 0 ? found : this.newSlot(key);
    const b = 3 * slot;
    const n = this.slotV[b + 1]!;
    if (n === this.slotV[b + 2]!) this.moveVersions(slot, n + 1);
    const at = this.slotV[b]! + n;
    this.vFrom[at] = v.from;
    this.vTo[at] = v.to === null ? NO_END : v.to;
    this.vSk[at] = v.sk;
    this.vHash[at] = v.hash;
    if (v.sk > this.maxSk) this.maxSk = v.sk;
    this.slotV[b + 1] = n + 1;
    this.entries++;
  }

  /** Learning the warehouse: one more observed day of a key (in any order, see `learned`). */
  learnDay(key: string, day: number): void {
    const found = this.slots.get(key);
    const slot = found >= 0 ? found : this.newSlot(key);
    const b = 3 * slot;
    const n = this.slotD[b + 1]!;
    if (n === this.slotD[b + 2]!) this.moveDays(slot, n + 1);
    this.dPool[this.slotD[b]! + n] = day;
    this.slotD[b + 1] = n + 1;
    this.entries++;
  }

  /** Learning done: each key's versions by valid_from and days ascending, and the pools compacted. */
  learned(): void {
    for (const slot of this.liveSlots()) {
      const [vs, vn] = [this.slotV[3 * slot]!, this.slotV[3 * slot + 1]!];
      let sorted = true;
      for (let i = vs + 1; i < vs + vn && sorted; i++) sorted = this.vFrom[i - 1]! < this.vFrom[i]!;
      if (!sorted) {
        const h = this.history(slot);
        h.versions.sort((a, b) => a.from - b.from);
        for (let i = 0; i < vn; i++) {
          const v = h.versions[i]!;
          this.vFrom[vs + i] = v.from;
          this.vTo[vs + i] = v.to === null ? NO_END : v.to;
          this.vSk[vs + i] = v.sk;
          this.vHash[vs + i] = v.hash;
        }
      }
      const [ds, dn] = [this.slotD[3 * slot]!, this.slotD[3 * slot + 1]!];
      this.dPool.subarray(ds, ds + dn).sort();
    }
    this.compact();
  }

  get entryCount(): number {
    return this.entries;
  }

  lookedUp(ids: readonly string[]): void {
    this.absent = new Set(ids.filter((id) => this.slots.get(id) < 0));
  }

  isNew(key: string): boolean {
    return this.complete || this.absent.has(key);
  }

  /** The slots that hold a key (in no particular order). */
  private *liveSlots(): Generator<number> {
    for (let i = this.head; i < this.order.length; i++) yield this.order[i]!;
  }

  private newSlot(key: string): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.slotCount++;
      if (3 * this.slotCount > this.slotV.length) {
        this.slotV = grow(this.slotV, 2 * this.slotV.length);
        this.slotD = grow(this.slotD, 2 * this.slotD.length);
      }
    }
    this.slotV.fill(0, 3 * slot, 3 * slot + 3);
    this.slotD.fill(0, 3 * slot, 3 * slot + 3);
    this.slots.add(key, slot);
    this.order.push(slot);
    return slot;
  }

  /** Give a slot's versions room for `need` at the end of the pool, keeping `keep` of them (default all). */
  private moveVersions(slot: number, need: number, keep = this.slotV[3 * slot + 1]!): void {
    const b = 3 * slot;
    const start = this.slotV[b]!;
    const cap = this.slotV[b + 2]!;
    // A segment already at the end of the pool grows where it is.
    const atEnd = start + cap === this.vUsed && cap > 0;
    const room = need <= 2 ? need : need + (need >> 1);
    if (!atEnd && this.vUsed + room > this.vFrom.length && this.vUsed - this.vLive > this.vLive) this.compact();
    const from = this.slotV[b]!;
    const at = from + this.slotV[b + 2]! === this.vUsed && this.slotV[b + 2]! > 0 ? from : this.vUsed;
    const end = at + room;
    if (end > this.vFrom.length) {
      const size = Math.max(end, 2 * this.vFrom.length);
      this.vFrom = grow(this.vFrom, size);
      this.vTo = grow(this.vTo, size);
      this.vSk = grow(this.vSk, size);
      this.vHash = grow(this.vHash, size);
    }
    if (at !== from) {
      this.vFrom.copyWithin(at, from, from + keep);
      this.vTo.copyWithin(at, from, from + keep);
      this.vSk.copyWithin(at, from, from + keep);
      this.vHash.copyWithin(at, from, from + keep);
    }
    this.vLive += room - this.slotV[b + 2]!;
    this.vUsed = end;
    this.slotV[b] = at;
    this.slotV[b + 2] = room;
  }

  private moveDays(slot: number, need: number, keep = this.slotD[3 * slot + 1]!): void {
    const b = 3 * slot;
    const start = this.slotD[b]!;
    const cap = this.slotD[b + 2]!;
    const atEnd = start + cap === this.dUsed && cap > 0;
    const room = need <= 2 ? need + 2 : need + (need >> 1);
    if (!atEnd && this.dUsed + room > this.dPool.length && this.dUsed - this.dLive > this.dLive) this.compact();
    const from = this.slotD[b]!;
    const at = from + this.slotD[b + 2]! === this.dUsed && this.slotD[b + 2]! > 0 ? from : this.dUsed;
    const end = at + room;
    if (end > this.dPool.length) this.dPool = grow(this.dPool, Math.max(end, 2 * this.dPool.length));
    if (at !== from) this.dPool.copyWithin(at, from, from + keep);
    this.dLive += room - this.slotD[b + 2]!;
    this.dUsed = end;
    this.slotD[b] = at;
    this.slotD[b + 2] = room;
  }

  /** Copy every live segment, trimmed to its length, into pools of their size. */
  private compact(): void {
    let vn = 0;
    let dn = 0;
    for (const slot of this.liveSlots()) {
      vn += this.slotV[3 * slot + 1]!;
      dn += this.slotD[3 * slot + 1]!;
    }
    const vSize = Math.max(1024, vn + (vn >> 2));
    const dSize = Math.max(1024, dn + (dn >> 2));
    const vFrom = new Int32Array(vSize);
    const vTo = new Int32Array(vSize);
    const vSk = new Float64Array(vSize);
    const vHash = new Float64Array(vSize);
    const dPool = new Int32Array(dSize);
    let v = 0;
    let d = 0;
    for (const slot of this.liveSlots()) {
      const b = 3 * slot;
      const [vs, vl] = [this.slotV[b]!, this.slotV[b + 1]!];
      vFrom.set(this.vFrom.subarray(vs, vs + vl), v);
      vTo.set(this.vTo.subarray(vs, vs + vl), v);
      vSk.set(this.vSk.subarray(vs, vs + vl), v);
      vHash.set(this.vHash.subarray(vs, vs + vl), v);
      this.slotV[b] = v;
      this.slotV[b + 2] = vl;
      v += vl;
      const [ds, dl] = [this.slotD[b]!, this.slotD[b + 1]!];
      dPool.set(this.dPool.subarray(ds, ds + dl), d);
      this.slotD[b] = d;
      this.slotD[b + 2] = dl;
      d += dl;
    }
    this.vFrom = vFrom;
    this.vTo = vTo;
    this.vSk = vSk;
    this.vHash = vHash;
    this.dPool = dPool;
    this.vUsed = this.vLive = v;
    this.dUsed = this.dLive = d;
  }

  private makeRoom(): void {
    if (this.entries < this.capacity && this.slots.keyBytes <= this.byteCapacity) return;
    while (this.head < this.order.length && (this.entries >= this.capacity * 0.875 || this.slots.keyBytes > this.byteCapacity * 0.875)) {
      const slot = this.order[this.head++]!;
      this.slots.remove(slot);
      const b = 3 * slot;
      this.entries -= this.slotV[b + 1]! + this.slotD[b + 1]!;
      this.vLive -= this.slotV[b + 2]!;
      this.dLive -= this.slotD[b + 2]!;
      this.slotV.fill(0, b, b + 3);
      this.slotD.fill(0, b, b + 3);
      this.free.push(slot);
    }
    if (this.head > this.order.length >> 1) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
    this.complete = false;
  }
}

function grow<T extends Int32Array | Float64Array>(a: T, size: number): T {
  const out = new (a.constructor as new (n: number) => T)(size);
  out.set(a);
  return out;
}

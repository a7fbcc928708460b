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
 * recomputed, and facts on the days whose version changed are pointed at the new one.
 *
 * Surrogate keys after a recomputation: a new version keeps the key of the first old version it overlaps
 * (on an observed day) with the same attributes, not yet kept by an earlier new version; any other new
 * version gets a new key. So a version extended or shortened keeps its key, and the pieces a late
 * observation cuts out of a version get new ones. Deterministic: the same loads in the same order give the
 * same keys, after any crash and re-run.
 */

/** Days since 1970-01-01: dates as numbers, for ordering and searching. */
export function epochDay(date: string): number {
  return Date.UTC(Number(date.slice(0, 4)), Number(date.slice(5, 7)) - 1, Number(date.slice(8, 10))) / 86_400_000;
}

export function dateOf(day: number): string {
  return new Date(day * 86_400_000).toISOString().slice(0, 10);
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

/** What is kept of one natural key: its versions (by valid_from) and its observed days (ascending). */
export interface KeyHistory {
  versions: HistoryVersion[];
  days: number[];
}

/** One observation of a key: a day and the attributes seen (in load order within the batch). */
export interface Observation {
  day: number;
  values: (string | null)[];
  hash: number;
}

/** A new version whose attributes are known from an observation (inserted with them). */
export interface InsertedVersion {
  sk: number;
  from: number;
  to: number | null;
  values: (string | null)[];
}

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
export interface KeyChange {
  history: KeyHistory;
  inserts: InsertedVersion[];
  copies: CopiedVersion[];
  /** Kept versions whose interval changed. */
  updates: HistoryVersion[];
  /** Surrogate keys of versions that are gone. */
  deletes: number[];
  repoints: Repoint[];
  /** Days observed for the first time. */
  newDays: number[];
}

/** The version in effect on `day`, or undefined before the first one. */
export function versionAt(history: KeyHistory, day: number): HistoryVersion | undefined {
  const v = history.versions;
  let lo = 0;
  let hi = v.length - 1;
  let found: HistoryVersion | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (v[mid]!.from <= day) {
      found = v[mid];
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

interface DayValue {
  hash: number;
  /** From an observation of this batch. */
  values: (string | null)[] | null;
  /** Else: the old version the day belonged to. */
  src: number;
  old: boolean;
}

/**
 * Place a batch's observations of one key (in load order) in its history. `nextSk` hands out new surrogate
 * keys; it is called in the order of the new versions' valid_from.
 */
export function placeObservations(old: KeyHistory | undefined, observations: Observation[], nextSk: () => number): KeyChange {
  const before = old ?? { versions: [], days: [] };
  // The batch's days of this key and their values after it (the last observation of a day wins it).
  const batchDays = new Map<number, Observation>();
  for (const o of observations) batchDays.set(o.day, o);
  const newDays: number[] = [];
  let inPlace = true;
  for (const [day, o] of batchDays) {
    const known = hasDay(before.days, day);
    if (!known) newDays.push(day);
    // A day whose value stays that of its version (an old day seen again alike, or a new day inside a version
    // with the same attributes) changes no version; anything else does.
    if (inPlace) {
      const v = versionAt(before, day);
      if (v === undefined || v.hash !== o.hash) inPlace = false;
    }
  }
  newDays.sort((a, b) => a - b);
  const days = newDays.length === 0 ? before.days : mergeSorted(before.days, newDays);
  if (inPlace) return { history: { versions: before.versions, days }, inserts: [], copies: [], updates: [], deletes: [], repoints: [], newDays };

  // Recompute the versions from the days: runs of equal values.
  const value = (day: number): DayValue => {
    const o = batchDays.get(day);
    const v = versionAt(before, day);
    const old = hasDay(before.days, day);
    if (o) return { hash: o.hash, values: o.values, src: old ? v!.sk : 0, old };
    return { hash: v!.hash, values: null, src: v!.sk, old: true };
  };
  interface Run {
    from: number;
    hash: number;
    days: { day: number; value: DayValue }[];
    sk: number;
    kept: HistoryVersion | null;
  }
  const runs: Run[] = [];
  for (const day of days) {
    const dv = value(day);
    const last = runs[runs.length - 1];
    if (last && last.hash === dv.hash) last.days.push({ day, value: dv });
    else runs.push({ from: day, hash: dv.hash, days: [{ day, value: dv }], sk: 0, kept: null });
  }
  // Keys: a run keeps the first old version it overlaps on an old day with equal attributes, not yet kept.
  const claimed = new Set<number>();
  for (const run of runs) {
    for (const { day, value: dv } of run.days) {
      if (!dv.old) continue;
      const o = versionAt(before, day)!;
      if (o.hash === run.hash && !claimed.has(o.sk)) {
        claimed.add(o.sk);
        run.kept = o;
        break;
      }
    }
  }
  for (const run of runs) run.sk = run.kept ? run.kept.sk : nextSk();
  const versions: HistoryVersion[] = runs.map((r, i) => ({ from: r.from, to: i + 1 < runs.length ? runs[i + 1]!.from : null, sk: r.sk, hash: r.hash }));
  const change: KeyChange = { history: { versions, days }, inserts: [], copies: [], updates: [], deletes: [], repoints: [], newDays };
  runs.forEach((run, i) => {
    const v = versions[i]!;
    if (run.kept) {
      if (run.kept.from !== v.from || run.kept.to !== v.to) change.updates.push(v);
      return;
    }
    // A new version: its attributes from an observation of the batch if one of its days has one, else those
    // of the old version its days belonged to (kept by an earlier run: see above).
    const observed = run.days.find((d) => d.value.values !== null);
    if (observed) change.inserts.push({ sk: v.sk, from: v.from, to: v.to, values: observed.value.values! });
    else change.copies.push({ sk: v.sk, from: v.from, to: v.to, src: run.days[0]!.value.src });
  });
  for (const o of before.versions) {
    if (!claimed.has(o.sk)) change.deletes.push(o.sk);
    // Facts dated in o's old interval belong now to whichever new versions cover it.
    for (const v of versions) {
      if (v.sk === o.sk) continue;
      const from = Math.max(o.from, v.from);
      const to = minEnd(o.to, v.to);
      if (to === null || from < to) change.repoints.push({ oldSk: o.sk, from, to, newSk: v.sk });
    }
  }
  return change;
}

function hasDay(days: number[], day: number): boolean {
  let lo = 0;
  let hi = days.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (days[mid] === day) return true;
    if (days[mid]! < day) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

function minEnd(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}

function mergeSorted(a: number[], b: number[]): number[] {
  const out: number[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i]! <= b[j]! ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/**
 * The histories of a history dimension's natural keys, in bounded memory (counted in versions and days):
 * complete while it holds every key of the table (then a key it does not know is new), else keys are looked
 * up in the warehouse per batch, as DimensionKeys does for SCD1.
 */
export class HistoryStore {
  private readonly capacity: number;
  private readonly keys = new Map<string, KeyHistory>();
  private entries = 0;
  complete = false;
  maxSk = 0;
  private absent = new Set<string>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.keys.size;
  }

  clear(): void {
    this.keys.clear();
    this.absent.clear();
    this.entries = 0;
    this.complete = false;
    this.maxSk = 0;
  }

  get(key: string): KeyHistory | undefined {
    return this.keys.get(key);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Remember a key's history; past capacity the oldest keys go (unless `evict` is false, as for lookups). */
  set(key: string, history: KeyHistory, evict = true): void {
    const before = this.keys.get(key);
    if (before) this.entries -= before.versions.length + before.days.length;
    else if (evict) this.makeRoom();
    this.keys.delete(key); // to the young end
    this.keys.set(key, history);
    this.entries += history.versions.length + history.days.length;
    for (const v of history.versions) if (v.sk > this.maxSk) this.maxSk = v.sk;
  }

  lookedUp(ids: readonly string[]): void {
    this.absent = new Set(ids.filter((id) => !this.keys.has(id)));
  }

  isNew(key: string): boolean {
    return this.complete || this.absent.has(key);
  }

  private makeRoom(): void {
    if (this.entries < this.capacity) return;
    for (const [key, h] of this.keys) {
      if (this.entries < this.capacity * 0.875) break;
      this.keys.delete(key);
      this.entries -= h.versions.length + h.days.length;
    }
    this.complete = false;
  }
}

/**
 * The first form of placeObservations (src/warehouse/history.ts), kept as the reference the windowed one is
 * tested against: it recomputes every version of the key from all of its days, where the engine now recomputes
 * only the window of versions the batch's days can change. Both must give the same versions, keys and moves.
 */
import { dayIndex, versionAt, type CopiedVersion, type HistoryVersion, type InsertedVersion, type KeyChange, type KeyHistory, type Observation, type Repoint } from '../../src/warehouse/history.ts';

interface DayValue<R> {
  hash: number;
  row: R | null;
  src: number;
  old: boolean;
}

const minEnd = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
const NOTHING: readonly never[] = [];
const mergeSorted = (a: number[], b: number[]): number[] => [...a, ...b].sort((x, y) => x - y);
const hasDayIn = (days: readonly number[], from: number, to: number | null): boolean => days.some((d) => d >= from && (to === null || d < to));

export function placeWhole<R>(old: KeyHistory | undefined, observations: Observation<R>[], nextSk: () => number): KeyChange<R> {
  const before = old ?? { versions: [], days: [] };
  // The common case, without allocating: one observation (or several of one day) that agrees with the version
  // in effect on its day. Its day, if new, is added to the history in place.
  const last = observations[observations.length - 1]!;
  if (old !== undefined && observations.every((o) => o.day === last.day)) {
    const v = versionAt(old, last.day);
    if (v !== undefined && v.hash === last.hash) {
      const at = dayIndex(old.days, last.day);
      if (at >= 0) return { history: old, inserts: NOTHING, copies: NOTHING, updates: NOTHING, deletes: NOTHING, repoints: NOTHING, newDays: NOTHING };
      old.days.splice(-at - 1, 0, last.day);
      return { history: old, inserts: NOTHING, copies: NOTHING, updates: NOTHING, deletes: NOTHING, repoints: NOTHING, newDays: [last.day] };
    }
  }
  // The batch's days of this key and their values after it (the last observation of a day wins it).
  const batchDays = new Map<number, Observation<R>>();
  for (const o of observations) batchDays.set(o.day, o);
  const newDays: number[] = [];
  let inPlace = true;
  for (const [day, o] of batchDays) {
    if (dayIndex(before.days, day) < 0) newDays.push(day);
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
  const value = (day: number): DayValue<R> => {
    const o = batchDays.get(day);
    const v = versionAt(before, day);
    const old = dayIndex(before.days, day) >= 0;
    if (o) return { hash: o.hash, row: o.row, src: old ? v!.sk : 0, old };
    return { hash: v!.hash, row: null, src: v!.sk, old: true };
  };
  interface Run {
    from: number;
    hash: number;
    days: { day: number; value: DayValue<R> }[];
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
  // Keys: a run keeps the key of the old version with equal attributes it shares the most old days with, so
  // the fewest facts move (facts sit on observed days); ties go to the earlier run, then the earlier version.
  // Each old key is kept once.
  const pairs: { run: Run; order: number; o: HistoryVersion; shared: number }[] = [];
  runs.forEach((run, order) => {
    const shared = new Map<HistoryVersion, number>();
    for (const { day, value: dv } of run.days) {
      if (!dv.old) continue;
      const o = versionAt(before, day)!;
      if (o.hash === run.hash) shared.set(o, (shared.get(o) ?? 0) + 1);
    }
    for (const [o, n] of shared) pairs.push({ run, order, o, shared: n });
  });
  pairs.sort((a, b) => b.shared - a.shared || a.order - b.order || a.o.from - b.o.from);
  const claimed = new Set<number>();
  for (const { run, o } of pairs) {
    if (run.kept !== null || claimed.has(o.sk)) continue;
    claimed.add(o.sk);
    run.kept = o;
  }
  for (const run of runs) run.sk = run.kept ? run.kept.sk : nextSk();
  const versions: HistoryVersion[] = runs.map((r, i) => ({ from: r.from, to: i + 1 < runs.length ? runs[i + 1]!.from : null, sk: r.sk, hash: r.hash }));
  const inserts: InsertedVersion<R>[] = [];
  const copies: CopiedVersion[] = [];
  const updates: HistoryVersion[] = [];
  const deletes: number[] = [];
  const repoints: Repoint[] = [];
  runs.forEach((run, i) => {
    const v = versions[i]!;
    if (run.kept) {
      if (run.kept.from !== v.from || run.kept.to !== v.to) updates.push(v);
      return;
    }
    // A new version: its attributes from an observation of the batch if one of its days has one, else those
    // of the old version its days belonged to (kept by an earlier run: see above).
    const observed = run.days.find((d) => d.value.row !== null);
    if (observed) inserts.push({ sk: v.sk, from: v.from, to: v.to, row: observed.value.row! });
    else copies.push({ sk: v.sk, from: v.from, to: v.to, src: run.days[0]!.value.src });
  });
  for (const o of before.versions) {
    if (!claimed.has(o.sk)) deletes.push(o.sk);
    // Facts dated in o's old interval belong now to whichever new versions cover it. Facts sit on observed
    // days (every fact line is an observation of its key on its date, and its day is recorded when its batch
    // commits): an interval without a day observed before this batch holds no fact to move, and the fact
    // table is not searched for it.
    for (const v of versions) {
      if (v.sk === o.sk) continue;
      const from = Math.max(o.from, v.from);
      const to = minEnd(o.to, v.to);
      if ((to === null || from < to) && hasDayIn(before.days, from, to)) repoints.push({ oldSk: o.sk, from, to, newSk: v.sk });
    }
  }
  return { history: { versions, days }, inserts, copies, updates, deletes, repoints, newDays };
}

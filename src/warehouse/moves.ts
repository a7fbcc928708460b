/**
 * Where the facts of noted versions go when a load moves them once, at its end (SqlWarehouse.moveDeferredFacts),
 * computed in the engine instead of by a correlated subquery per fact: the notes (a version whose facts wait,
 * and the interval it covers now, if it is still there) and every version of the noted natural keys, in
 * (natural key, valid_from) order. The rule is the SQL's (DialectSql.moveNotedFacts): a fact of a noted version
 * stays where its date is inside the interval that version still covers, and otherwise points at the version of
 * its natural key in effect on its date (the last one with valid_from on or before it).
 *
 * Pure: no I/O. Memory: a map entry per note and per natural key, 12 bytes per version.
 */
import { EtlError } from '../errors.ts';
import { dateOf, epochDay } from './history.ts';

interface Note {
  naturalKey: string;
  /** The interval the version still covers, in epoch days: [keepFrom, keepTo); an empty one when it is gone. */
  keepFrom: number;
  keepTo: number;
}

export class FactMoves {
  private readonly notes = new Map<number, Note>();
  /** Per natural key, its versions' run [start, end) in `from` and `sk`. */
  private readonly runs = new Map<string, { start: number; end: number }>();
  private readonly from: Int32Array;
  private readonly sk: Float64Array;
  private count = 0;
  private last: string | null = null;

  constructor(
    private readonly table: string,
    versions: number,
  ) {
    this.from = new Int32Array(versions);
    this.sk = new Float64Array(versions);
  }

  /** A noted version: its surrogate key, natural key and, when it is still there, its valid_from and valid_to. */
  note(sk: number, naturalKey: string, validFrom: string | null, validTo: string | null): void {
    const gone = validFrom === null;
    this.notes.set(sk, {
      naturalKey,
      keepFrom: gone ? Infinity : epochDay(validFrom),
      keepTo: gone || validTo === null ? Infinity : epochDay(validTo),
    });
  }

  /** The next version of a noted natural key, in (natural key, valid_from) order. */
  version(naturalKey: string, validFrom: string, sk: number): void {
    if (this.count === this.from.length) throw new EtlError('E_INTERNAL', `${this.table}: more versions of the moved keys than counted (${this.from.length})`);
    const day = epochDay(validFrom);
    if (naturalKey !== this.last) {
      if (this.runs.has(naturalKey)) throw new EtlError('E_INTERNAL', `${this.table}: the versions of ${JSON.stringify(naturalKey)} did not arrive together`);
      this.runs.set(naturalKey, { start: this.count, end: this.count + 1 });
      this.last = naturalKey;
    } else {
      const run = this.runs.get(naturalKey)!;
      if (day <= this.from[this.count - 1]!) throw new EtlError('E_INTERNAL', `${this.table}: the versions of ${JSON.stringify(naturalKey)} did not arrive by valid_from`);
      run.end = this.count + 1;
    }
    this.from[this.count] = day;
    this.sk[this.count] = sk;
    this.count++;
  }

  /** No version noted: nothing of this dimension moves. */
  get empty(): boolean {
    return this.notes.size === 0;
  }

  /** The surrogate key a fact that points at `sk`, dated `day` (an epoch day), points at after the moves. */
  target(sk: number, day: number): number {
    const note = this.notes.get(sk);
    if (note === undefined || (day >= note.keepFrom && day < note.keepTo)) return sk;
    const run = this.runs.get(note.naturalKey);
    // The last version with valid_from <= day.
    let lo = run ? run.start : 0;
    let hi = run ? run.end : 0;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.from[mid]! <= day) lo = mid + 1;
      else hi = mid;
    }
    if (!run || lo === run.start) {
      throw new EtlError('E_INTERNAL', `${this.table}: a fact of ${JSON.stringify(note.naturalKey)} on ${dateOf(day)} has no version in effect that day`);
    }
    return this.sk[lo - 1]!;
  }
}

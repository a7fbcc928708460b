/**
 * FactMoves (src/warehouse/moves.ts), where a fact of a noted version goes when MariaDB writes the fact table
 * anew, against the rule of the SQL it replaces (moveNotedFacts) written out plainly: a fact stays on its
 * version where its date is inside the interval the version still covers, else it points at the version of
 * its natural key with the latest valid_from on or before its date. Random keys, versions, notes (some of them
 * of versions gone) and facts; and the errors that mean the engine's own data is inconsistent.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EtlError } from '../../src/errors.ts';
import { dateOf, epochDay } from '../../src/warehouse/history.ts';
import { FactMoves } from '../../src/warehouse/moves.ts';
import { rng } from '../helpers/history-inputs.ts';

interface Version {
  key: string;
  from: string;
  to: string | null;
  sk: number;
}

describe('FactMoves', () => {
  it('sends each fact where the in-place SQL would, for random versions, notes and facts', () => {
    for (let seed = 1; seed <= 30; seed++) {
      const r = rng(seed);
      const first = epochDay('2024-01-01');
      // Each key's versions tile the time from its first day; some keys have one version, some dozens.
      const versions: Version[] = [];
      let sk = 0;
      for (let k = 0; k < 1 + Math.floor(r() * 30); k++) {
        let day = first + Math.floor(r() * 50);
        const count = 1 + Math.floor(r() * (r() < 0.3 ? 40 : 4));
        for (let v = 0; v < count; v++) {
          const next = day + 1 + Math.floor(r() * 20);
          versions.push({ key: `K${k}`, from: dateOf(day), to: v === count - 1 ? null : dateOf(next), sk: (sk += 1 + Math.floor(r() * 3)) });
          day = next;
        }
      }
      // Notes: versions still there, and versions gone (a surrogate key no row has), of keys that have rows.
      const notes: { sk: number; key: string; kept: Version | null }[] = [];
      for (const v of versions) if (r() < 0.3) notes.push({ sk: v.sk, key: v.key, kept: v });
      for (let i = 0; i < 5; i++) {
        const v = versions[Math.floor(r() * versions.length)]!;
        notes.push({ sk: 100_000 + i, key: v.key, kept: null });
      }
      const noted = new Set(notes.map((n) => n.key));
      const held = versions.filter((v) => noted.has(v.key));
      const moves = new FactMoves('customers', held.length);
      for (const n of notes) moves.note(n.sk, n.key, n.kept?.from ?? null, n.kept?.to ?? null);
      for (const v of [...held].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.from < b.from ? -1 : 1))) moves.version(v.key, v.from, v.sk);

      const expected = (factSk: number, date: string): number => {
        const n = notes.find((x) => x.sk === factSk);
        if (!n) return factSk;
        if (n.kept && date >= n.kept.from && (n.kept.to === null || date < n.kept.to)) return factSk;
        const candidates = versions.filter((v) => v.key === n.key && v.from <= date);
        return candidates[candidates.length - 1]!.sk;
      };
      for (let f = 0; f < 2000; f++) {
        // A fact of a noted version, or of any version, on a day at or after its key's first version.
        const n = r() < 0.7 ? notes[Math.floor(r() * notes.length)]! : null;
        const v = n ? versions.find((x) => x.key === n.key)! : versions[Math.floor(r() * versions.length)]!;
        const factSk = n ? n.sk : v.sk;
        const date = dateOf(epochDay(v.from) + Math.floor(r() * 400));
        assert.equal(moves.target(factSk, epochDay(date)), expected(factSk, date), `seed ${seed}: a fact of ${factSk} on ${date}`);
      }
    }
  });

  it('refuses versions out of order or more than counted, and a fact with no version in effect', () => {
    const fails = (work: () => void, message: RegExp) => assert.throws(work, (err: unknown) => err instanceof EtlError && err.code === 'E_INTERNAL' && message.test(err.message));
    fails(() => {
      const m = new FactMoves('products', 3);
      m.version('P1', '2024-02-01', 1);
      m.version('P1', '2024-01-01', 2);
    }, /P1.*did not arrive by valid_from/);
    fails(() => {
      const m = new FactMoves('products', 3);
      m.version('P1', '2024-01-01', 1);
      m.version('P2', '2024-01-01', 2);
      m.version('P1', '2024-02-01', 3);
    }, /P1.*did not arrive together/);
    fails(() => {
      const m = new FactMoves('products', 1);
      m.version('P1', '2024-01-01', 1);
      m.version('P1', '2024-02-01', 2);
    }, /more versions of the moved keys than counted/);
    const m = new FactMoves('products', 1);
    m.note(7, 'P1', null, null);
    m.version('P1', '2024-03-01', 8);
    assert.equal(m.target(7, epochDay('2024-03-05')), 8);
    assert.equal(m.target(9, epochDay('2023-01-01')), 9, 'a version not noted stays');
    fails(() => m.target(7, epochDay('2024-02-28')), /"P1" on 2024-02-28 has no version in effect/);
  });
});

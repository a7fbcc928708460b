/**
 * HistoryStore (src/warehouse/history.ts) against a plain Map of histories: random learning (versions and days
 * in any order), sets that grow and shrink a key's segments, days added in place, eviction past capacity and
 * compaction. After every step, each key the store holds has the model's history, and lookups by day agree.
 * placeObservations: which facts a split moves, and that recomputing only the window of versions a batch can
 * change gives what recomputing the whole history gives (test/helpers/place-whole.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistoryStore, placeObservations, versionAt, type Days, type KeyChange, type KeyHistory } from '../../src/warehouse/history.ts';
import { rng } from '../helpers/history-inputs.ts';
import { placeWhole } from '../helpers/place-whole.ts';

let nextSk = 1;
function randomHistory(r: () => number): KeyHistory {
  const days = [...new Set(Array.from({ length: 1 + Math.floor(r() * 12) }, () => 18000 + Math.floor(r() * 400)))].sort((a, b) => a - b);
  const versions: KeyHistory['versions'] = [];
  for (let i = 0; i < days.length; i++) {
    if (i === 0 || r() < 0.3) versions.push({ from: days[i]!, to: null, sk: nextSk++, hash: r() < 0.5 ? (r() * 2 ** 32) | 0 : Math.floor(r() * 2 ** 32) });
  }
  for (let i = 0; i + 1 < versions.length; i++) versions[i]!.to = versions[i + 1]!.from;
  return { versions, days };
}

function check(store: HistoryStore, model: Map<string, KeyHistory>, r: () => number): void {
  for (const [key, h] of model) {
    if (!store.has(key)) continue;
    assert.deepEqual(store.get(key), h, key);
    const slot = store.slotOf(key);
    const day = 17990 + Math.floor(r() * 420);
    const v = versionAt(h, day);
    const at = store.versionAt(slot, day);
    if (v === undefined) assert.equal(at, -1);
    else {
      assert.equal(store.skAt(at), v.sk);
      assert.equal(store.hashAt(at), v.hash);
    }
  }
}

describe('HistoryStore', () => {
  it('learns versions and days in any order, then sorts each key', () => {
    const r = rng(7);
    const store = new HistoryStore(1e9);
    const model = new Map<string, KeyHistory>();
    for (let k = 0; k < 500; k++) model.set(`k${k}`, randomHistory(r));
    const versions = [...model].flatMap(([key, h]) => h.versions.map((v) => ({ key, v })));
    const days = [...model].flatMap(([key, h]) => h.days.map((d) => ({ key, d })));
    versions.sort(() => r() - 0.5);
    days.sort(() => r() - 0.5);
    for (const { key, v } of versions) store.learnVersion(key, { ...v });
    for (const { key, d } of days) store.learnDay(key, d);
    store.learned();
    assert.equal(store.size, 500);
    assert.equal(store.maxSk, nextSk - 1);
    check(store, model, r);
  });

  it('keeps every key through random sets and added days, with compaction', () => {
    const r = rng(11);
    const store = new HistoryStore(1e9);
    const model = new Map<string, KeyHistory>();
    for (let step = 0; step < 20_000; step++) {
      const key = `k${Math.floor(r() * 300)}`;
      const h = model.get(key);
      if (h !== undefined && r() < 0.6) {
        const day = 18000 + Math.floor(r() * 400);
        const added = store.addDay(store.slotOf(key), day);
        assert.equal(added, !h.days.includes(day));
        if (added) h.days = [...h.days, day].sort((a, b) => a - b);
      } else {
        const next = randomHistory(r);
        model.set(key, next);
        store.set(key, { versions: next.versions.map((v) => ({ ...v })), days: [...next.days] });
      }
      if (step % 1000 === 0) check(store, model, r);
    }
    check(store, model, r);
    assert.equal(store.entryCount, [...model.values()].reduce((n, h) => n + h.versions.length + h.days.length, 0));
  });

  it('takes back the histories it handed out, their days views of its pool, while the keys set before them grow, move and compact it, and new keys evict the oldest', () => {
    const r = rng(5);
    const store = new HistoryStore(20_000);
    let compactions = 0;
    const internals = store as unknown as { compact(): void };
    const compact = internals.compact.bind(store);
    internals.compact = () => {
      compactions++;
      compact();
    };
    const model = new Map<string, KeyHistory>();
    for (let k = 0; k < 300; k++) {
      const h = randomHistory(r);
      model.set(`k${k}`, h);
      store.set(`k${k}`, { versions: h.versions.map((v) => ({ ...v })), days: [...h.days] });
    }
    for (let round = 0; round < 60; round++) {
      // As a batch's plan: every history handed out first, what each becomes decided from its view then, and
      // all set back after, in turn: some with days added (their segments move to the end of the pool, which
      // grows or is compacted), the others as they were handed out, the views themselves.
      const plans = [...model.keys()].filter((key) => store.has(key)).map((key) => {
        const slot = store.slotOf(key);
        const h = store.history(slot);
        const added = r() < 0.5 ? Array.from({ length: 1 + Math.floor(r() * 6) }, () => 19000 + round * 10 + Math.floor(r() * 10)) : [];
        const next: KeyHistory<Days> = added.length > 0 ? { versions: h.versions, days: [...new Set([...Array.from(h.days), ...added])].sort((a, b) => a - b) } : h;
        return { key, slot, next, want: { versions: next.versions.map((v) => ({ ...v })), days: Array.from(next.days) } };
      });
      for (const { slot, next } of plans) store.setAt(slot, next);
      for (const { key, want } of plans) model.set(key, want);
      // Then the batch's new keys, as FoundVersions.commit sets them: past capacity the oldest keys go.
      for (let k = 0; k < 10; k++) {
        const h = randomHistory(r);
        model.set(`n${round}-${k}`, h);
        store.set(`n${round}-${k}`, { versions: h.versions.map((v) => ({ ...v })), days: [...h.days] });
      }
      check(store, model, r);
    }
    assert.ok(compactions > 0, 'the pools were compacted meanwhile');
    const held = [...model].filter(([key]) => store.has(key));
    assert.ok(held.length < model.size, 'keys were evicted meanwhile');
    assert.equal(store.entryCount, held.reduce((n, [, h]) => n + h.versions.length + h.days.length, 0));
  });

  it("takes a key's own days view back without writing its pool, and writes a copy of it or another key's view", () => {
    const store = new HistoryStore(100);
    const version = (sk: number) => ({ from: 18000, to: null, sk, hash: sk * 7 });
    store.set('a', { versions: [version(1)], days: [18000, 18001, 18002] });
    store.set('b', { versions: [version(2)], days: [18000, 18005, 18009] });
    const pool = (store as unknown as { dPool: Int32Array }).dPool;
    let writes = 0;
    const set = pool.set.bind(pool);
    pool.set = ((array: ArrayLike<number>, offset?: number) => {
      writes++;
      set(array, offset);
    }) as typeof pool.set;
    const [a, b] = [store.slotOf('a'), store.slotOf('b')];
    const own = store.history(a);
    store.setAt(a, own);
    assert.equal(writes, 0, 'its own view: taken back as it is');
    store.setAt(a, { versions: own.versions, days: Array.from(own.days) });
    assert.equal(writes, 1, 'a copy of it: written');
    store.setAt(a, { versions: own.versions, days: store.history(b).days });
    assert.equal(writes, 2, "another key's view: written");
    assert.deepEqual(store.get('a'), { versions: [version(1)], days: [18000, 18005, 18009] });
    assert.deepEqual(store.get('b'), { versions: [version(2)], days: [18000, 18005, 18009] });
  });

  it('moves growing segments to the end of the pool and takes the space back', () => {
    const r = rng(5);
    const store = new HistoryStore(1e9);
    const model = new Map<string, KeyHistory>();
    for (let k = 0; k < 2000; k++) {
      model.set(`k${k}`, { versions: [{ from: 0, to: null, sk: k + 1, hash: k }], days: [0] });
      store.set(`k${k}`, { versions: [{ from: 0, to: null, sk: k + 1, hash: k }], days: [0] });
    }
    // Every key gains a day in turn, so no segment stays at the end of the pool for long.
    for (let d = 1; d < 120; d++) {
      for (let k = 0; k < 2000; k++) {
        assert.ok(store.addDay(store.slotOf(`k${k}`), d));
        model.get(`k${k}`)!.days.push(d);
      }
    }
    check(store, model, r);
    assert.equal(store.entryCount, 2000 * 121);
  });

  it('forgets the oldest keys past capacity and is then no longer complete', () => {
    const r = rng(3);
    const store = new HistoryStore(2000);
    store.complete = true;
    const model = new Map<string, KeyHistory>();
    for (let k = 0; k < 1000; k++) {
      const h = randomHistory(r);
      model.set(`k${k}`, h);
      store.set(`k${k}`, { versions: h.versions.map((v) => ({ ...v })), days: [...h.days] });
      if (k % 50 === 0) store.addDay(store.slotOf(`k${k}`), 17000 + k) && (h.days = [17000 + k, ...h.days]);
    }
    assert.equal(store.complete, false);
    assert.ok(store.entryCount <= 2000 + 30, `${store.entryCount} entries`);
    assert.ok(store.has('k999') && !store.has('k0'));
    check(store, model, r);
    // Keys looked up are held whatever the capacity; a key looked up and not found is new.
    store.set('looked', randomHistory(r), false);
    store.lookedUp(['looked', 'missing']);
    assert.ok(store.isNew('missing') && !store.isNew('looked'));
  });
});

describe('HistoryStore: the heap of its keys', () => {
  it('forgets the oldest keys when their strings pass its byte budget, however few entries they hold', () => {
    const r = rng(5);
    // 128-character ids, two-byte: about 272 bytes each; a budget of 100 such keys, entries plenty.
    const id = (k: number) => `客${String(k).padStart(127, '〇')}`;
    const store = new HistoryStore(1_000_000, 100 * 272);
    store.complete = true;
    const model = new Map<string, KeyHistory>();
    for (let k = 0; k < 1000; k++) {
      const h = randomHistory(r);
      model.set(id(k), h);
      store.set(id(k), { versions: h.versions.map((v) => ({ ...v })), days: [...h.days] });
      assert.ok(store.size <= 101, `${store.size} keys held after ${k + 1}`);
    }
    assert.equal(store.complete, false);
    assert.ok(store.has(id(999)) && !store.has(id(0)));
    check(store, model, r);
    // Learning (which does not evict) is told when the keys' strings are over the budget.
    const learning = new HistoryStore(1_000_000, 10 * 272);
    for (let k = 0; k < 10; k++) learning.learnVersion(id(k), { from: 18000, to: null, sk: k + 1, hash: 1 });
    assert.equal(learning.overBytes, false);
    learning.learnVersion(id(10), { from: 18000, to: null, sk: 11, hash: 1 });
    assert.equal(learning.overBytes, true);
  });
});

describe('HistoryStore: keys that are integers, slots set directly, eviction', () => {
  it('evicts the oldest keys in the order they came, reuses their slots, and sets held keys by slot', () => {
    const r = rng(21);
    const store = new HistoryStore(60);
    store.complete = true;
    const model = new Map<string, KeyHistory>();
    const oneDay = (day: number): KeyHistory => ({ versions: [{ from: day, to: null, sk: nextSk++, hash: day }], days: [day] });
    // Integer keys and text that looks like them: 20 keys of 2 entries each, 40 entries.
    const keys = Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? `0${i}` : String(1000 + i)));
    for (const [i, k] of keys.entries()) {
      model.set(k, oneDay(18000 + i));
      store.set(k, model.get(k)!);
    }
    // The oldest key, set again by its slot: it stays where it was in the order (the oldest).
    const oldest = store.slotOf(keys[0]!);
    const changed = { versions: [{ from: 17990, to: 18000, sk: nextSk++, hash: 1 }, { from: 18000, to: null, sk: nextSk++, hash: 2 }], days: [17990, 18000] };
    store.setAt(oldest, changed);
    model.set(keys[0]!, changed);
    // 20 new keys: past 60 entries the oldest go until 7/8 of it, and their slots are handed out again.
    for (let i = 0; i < 20; i++) {
      const k = String(5000 + i);
      model.set(k, oneDay(18100 + i));
      store.set(k, model.get(k)!);
    }
    assert.equal(store.complete, false);
    assert.ok(!store.has(keys[0]!) && !store.has(keys[1]!), 'the oldest keys went first');
    assert.ok(store.has('5019') && store.has(keys[19]!), 'the newest stayed');
    const held = [...model.keys()].filter((k) => store.has(k));
    assert.ok(held.length < 40, `${held.length} held`);
    // What is held is exactly a suffix of the order the keys came in.
    const order = [...keys, ...Array.from({ length: 20 }, (_, i) => String(5000 + i))];
    assert.deepEqual(held.sort(), order.slice(order.length - held.length).sort());
    check(store, model, r);
    for (const k of ['10', '1000', '00', '5020', '05000']) assert.equal(store.slotOf(k), -1, k);
  });
});

describe('placeObservations: facts to move', () => {
  const at = (from: number, to: number | null, sk: number, hash: number) => ({ from, to, sk, hash });
  const observe = (day: number, hash: number) => ({ day, row: { hash }, hash });

  it('moves the facts of the old days a split hands to another version, and searches no interval without one', () => {
    // One version since day 10, observed on days 10 and 20; a late observation on day 15 disagrees with it.
    let sk = 1;
    const change = placeObservations({ versions: [at(10, null, 1, 0xa)], days: [10, 20] }, [observe(15, 0xb)], () => ++sk);
    assert.deepEqual(change.history.versions, [at(10, 15, 1, 0xa), at(15, 20, 2, 0xb), at(20, null, 3, 0xa)]);
    // Days 15..19 held no fact (no day observed there before): nothing to move. Day 20's facts go to key 3.
    assert.deepEqual(change.repoints, [{ oldSk: 1, from: 20, to: null, newSk: 3 }]);
  });

  it('moves the facts of a day observed before when a later observation of that day wins it', () => {
    let sk = 1;
    const change = placeObservations({ versions: [at(10, null, 1, 0xa)], days: [10, 15, 20] }, [observe(15, 0xb)], () => ++sk);
    assert.deepEqual(change.history.versions, [at(10, 15, 1, 0xa), at(15, 20, 2, 0xb), at(20, null, 3, 0xa)]);
    assert.deepEqual(change.repoints, [
      { oldSk: 1, from: 15, to: 20, newSk: 2 },
      { oldSk: 1, from: 20, to: null, newSk: 3 },
    ]);
  });
});

describe('placeObservations: the window of versions a batch can change', () => {
  const copy = (h: KeyHistory<Days>): KeyHistory => ({ versions: h.versions.map((v) => ({ ...v })), days: Array.from(h.days) });
  /** As the store hands a history out: its days a view of a pool (an Int32Array), between other values. */
  const stored = (h: KeyHistory<Days>): { history: KeyHistory<Int32Array>; pool: Int32Array } => {
    const pool = new Int32Array(h.days.length + 4).fill(-1);
    pool.set(h.days, 2);
    return { history: { versions: h.versions.map((v) => ({ ...v })), days: pool.subarray(2, 2 + h.days.length) }, pool };
  };
  const plain = <R>(c: KeyChange<R>) => ({ ...c, history: copy(c.history) });

  it('gives the versions, keys, writes and moves of recomputing the whole history, on random keys and batches', () => {
    const r = rng(11);
    let compared = 0;
    let windowed = 0;
    for (let key = 0; key < 400; key++) {
      // Few distinct attribute values, so that runs join and split; days over a year, batches early and late.
      const values = 2 + Math.floor(r() * 3);
      let history: KeyHistory<Days> | undefined;
      let sk = 0;
      for (let batch = 0; batch < 12; batch++) {
        // Each row its own (the hash alone would not tell which observation's row a version took).
        const observations = Array.from({ length: 1 + Math.floor(r() * (r() < 0.7 ? 2 : 8)) }, (_, i) => {
          const hash = 1 + Math.floor(r() * values);
          return { day: 18000 + Math.floor(r() * 365), row: { hash, key, batch, i }, hash };
        });
        let skA = sk;
        let skB = sk;
        const given = history && stored(history);
        const a = placeObservations(given?.history, observations, () => ++skA);
        const b = placeWhole(history && copy(history), observations, () => ++skB);
        assert.deepEqual(plain(a), plain(b), `key ${key}, batch ${batch}`);
        if (history && given) {
          // What it was given stays as it was: the store's pool, and the versions handed out with it.
          assert.deepEqual(Array.from(given.pool), [-1, -1, ...Array.from(history.days), -1, -1], `key ${key}, batch ${batch}: the pool`);
          assert.deepEqual(given.history.versions, history.versions, `key ${key}, batch ${batch}: the versions given`);
        }
        assert.equal(skA, skB);
        if (history && history.versions.length > 4 && a.inserts.length + a.copies.length + a.updates.length > 0) windowed++;
        compared++;
        history = b.history;
        sk = skB;
      }
    }
    assert.equal(compared, 4800);
    assert.ok(windowed > 500, `${windowed} changes of keys with more than 4 versions`);
  });

  it('recomputes a history that breaks what windows rest on (edited by hand) whole, as before, leaving no gap', () => {
    const at = (from: number, to: number | null, sk: number, hash: number) => ({ from, to, sk, hash });
    const cases: [string, KeyHistory][] = [
      // Version 2 starts on day 20, which no observation shows: a window starting there would begin on day 25.
      ['a version that starts on no observed day', { versions: [at(10, 20, 1, 0xa), at(20, 30, 2, 0xb), at(30, null, 3, 0xc)], days: [10, 15, 25, 30, 35] }],
      // Versions 1 and 2 have the same attributes: recomputed, they are one.
      ['two versions next to each other alike', { versions: [at(10, 20, 1, 0xa), at(20, 30, 2, 0xa), at(30, null, 3, 0xc)], days: [10, 20, 25, 30, 35] }],
    ];
    for (const [what, history] of cases) {
      const observations = [{ day: 35, row: { hash: 0xd }, hash: 0xd }];
      let skA = 10;
      let skB = 10;
      const a = placeObservations(copy(history), observations, () => ++skA);
      assert.deepEqual(a, placeWhole(copy(history), observations, () => ++skB), what);
      const v = a.history.versions;
      for (let i = 0; i + 1 < v.length; i++) assert.equal(v[i]!.to, v[i + 1]!.from, `${what}: no gap after version ${i + 1}`);
    }
  });
});

/**
 * DimensionKeys and its KeyIndex (src/warehouse/keys.ts) against a plain Map in insertion order: random sets
 * of new and known keys (colliding, growing, past capacity), so that the open-addressing table's deletion is
 * exercised as much as its lookups. After every step, every key the model holds is found with its surrogate
 * key and hash, every key it forgot is not found, and the oldest keys are the ones forgotten. Keys that are
 * integers are found by their number, others by their text: both kinds, and text that looks like an integer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DimensionKeys, integerKey, KeyIndex, keyHeapBytes } from '../../src/warehouse/keys.ts';
import { rng } from '../helpers/history-inputs.ts';

describe('DimensionKeys', () => {
  it('finds every key it holds and forgets the oldest past capacity, as a Map in insertion order would', () => {
    const r = rng(11);
    const capacity = 400;
    const keys = new DimensionKeys(capacity);
    const model = new Map<string, { sk: number; hash: number }>();
    const forgotten = new Set<string>();
    // Few distinct keys, and short ones: many share a probe run, so deletions move entries back.
    const key = () => `C${Math.floor(r() * 1500)}`;
    keys.complete = true;
    for (let step = 0; step < 20_000; step++) {
      const id = key();
      const value = { sk: step + 1, hash: Math.floor(r() * 2 ** 40) };
      if (model.has(id)) model.set(id, value);
      else {
        if (model.size >= capacity) {
          for (const old of [...model.keys()].slice(0, capacity / 8)) {
            model.delete(old);
            forgotten.add(old);
          }
        }
        model.set(id, value);
        forgotten.delete(id);
      }
      keys.set(id, value.sk, value.hash);
      if (step % 97 === 0 || step === 19_999) {
        assert.equal(keys.size, model.size);
        for (const [k, v] of model) {
          const slot = keys.slotOf(k);
          assert.ok(slot >= 0, `${k} is held`);
          assert.equal(keys.skAt(slot), v.sk);
          assert.equal(keys.hashAt(slot), v.hash);
        }
        for (const k of forgotten) assert.equal(keys.slotOf(k), -1, `${k} was forgotten`);
      }
    }
    assert.equal(keys.complete, false, 'a map that forgot keys is no longer complete');
    assert.equal(keys.maxSk, 20_000);
  });

  it('forgets the oldest keys when their strings pass its byte budget, long before its count of keys', () => {
    // Natural keys may be 128 characters: counted only by number, 440,000 such ids in each dimension filled
    // the default heap when a load read them, and every later load of that warehouse ran out of memory.
    const budget = 64 * 1024;
    const keys = new DimensionKeys(1_000_000, budget);
    keys.complete = true;
    const id = (i: number, wide: boolean) => `${wide ? '\u4e00' : 'C'}${String(i).padStart(127, '0')}`;
    for (let i = 0; i < 5_000; i++) {
      keys.set(id(i, i >= 2_500), i + 1, i);
      assert.ok(keys.size <= 1 + budget / keyHeapBytes(id(0, false)), `at most the budget's worth of keys: ${keys.size} after ${i + 1}`);
    }
    assert.equal(keys.complete, false, 'a map that forgot keys is no longer complete');
    assert.equal(keys.evicted, true);
    // The newest keys are held, the oldest forgotten; two-byte keys take twice the room.
    assert.equal(keyHeapBytes(id(1, true)), 2 * keyHeapBytes(id(1, false)) - 16);
    const held = Math.floor(budget / keyHeapBytes(id(1, true)) * 0.875);
    for (let i = 5_000 - held; i < 5_000; i++) assert.equal(keys.skAt(keys.slotOf(id(i, true))), i + 1, `key ${i} is held`);
    for (let i = 0; i < 2_500; i++) assert.equal(keys.slotOf(id(i, false)), -1, `key ${i} was forgotten`);
    // Integer keys take no string: a million of them stay within any budget.
    const numbers = new DimensionKeys(1_000_000, budget);
    for (let i = 0; i < 100_000; i++) numbers.set(String(i), i + 1, i);
    assert.equal(numbers.size, 100_000);
    assert.equal(numbers.evicted, false);
    numbers.clear();
    keys.clear();
    assert.equal(keys.evicted, false, 'cleared: nothing forgotten since');
  });

  it('holds a million keys and looks each one up (the table grows past its first size many times)', () => {
    const keys = new DimensionKeys(2_000_000);
    for (let i = 0; i < 1_000_000; i++) keys.set(`CUST-${i}`, i + 1, i * 3);
    assert.equal(keys.size, 1_000_000);
    for (let i = 0; i < 1_000_000; i += 7) {
      const slot = keys.slotOf(`CUST-${i}`);
      assert.equal(keys.skAt(slot), i + 1);
      assert.equal(keys.hashAt(slot), i * 3);
    }
    assert.equal(keys.slotOf('CUST-1000000'), -1);
    assert.equal(keys.slotOf(''), -1);
    // Keys that are integers are found by their number: the table of numbers grows with the slots.
    const numbers = new DimensionKeys(2_000_000);
    for (let i = 0; i < 300_000; i++) numbers.set(i % 7 === 0 ? `0${i}` : String(i), i + 1, i);
    assert.equal(numbers.size, 300_000);
    for (let i = 0; i < 300_000; i += 3) {
      const slot = numbers.slotOf(i % 7 === 0 ? `0${i}` : String(i));
      assert.equal(numbers.skAt(slot), i + 1, `key ${i}`);
    }
    assert.equal(numbers.slotOf('7'), -1, 'only 07 was set');
    assert.equal(numbers.slotOf('300000'), -1);
    keys.clear();
    assert.equal(keys.size, 0);
    assert.equal(keys.slotOf('CUST-5'), -1);
    keys.set('CUST-5', 9, 1);
    assert.equal(keys.skAt(keys.slotOf('CUST-5')), 9);
  });
});

describe('KeyIndex', () => {
  // Keys found by their integer and keys found by their text share one table: integers written the usual
  // way, and strings that look like integers but are not written so (or do not fit), which must stay apart.
  const keyOf = (k: number) => {
    switch (k % 6) {
      case 0:
      case 1:
        return String(k);
      case 2:
        return `0${k}`;
      case 3:
        return `C${k}`;
      case 4:
        return String(2 ** 31 + k);
      default:
        return `-${k}`;
    }
  };

  it('removes from the middle of a probe run, across the end of the table, and finds the rest', () => {
    const r = rng(5);
    const index = new KeyIndex();
    const model = new Map<string, number>();
    let nextSlot = 0;
    const free: number[] = [];
    for (let step = 0; step < 30_000; step++) {
      const id = keyOf(Math.floor(r() * 900)); // 900 keys in a table of 1024 to 2048 entries: long runs, wraps
      const slot = model.get(id);
      if (slot === undefined) {
        const s = free.pop() ?? nextSlot++;
        index.add(id, s);
        model.set(id, s);
      } else if (r() < 0.6) {
        index.remove(slot);
        model.delete(id);
        free.push(slot);
      }
      if (step % 101 === 0) {
        assert.equal(index.size, model.size);
        for (let k = 0; k < 900; k++) assert.equal(index.get(keyOf(k)), model.get(keyOf(k)) ?? -1, `key ${keyOf(k)}`);
      }
    }
  });

  it('tells an integer key from text that only looks like one', () => {
    for (const [key, n] of [
      ['0', 0],
      ['7', 7],
      ['89659', 89659],
      ['2147483647', 2 ** 31 - 1],
      ['2147483648', -1],
      ['99999999999', -1],
      ['00', -1],
      ['07', -1],
      ['-1', -1],
      ['+1', -1],
      ['1.0', -1],
      ['1e3', -1],
      [' 1', -1],
      ['1 ', -1],
      ['', -1],
      ['١٢', -1],
    ] as const) {
      assert.equal(integerKey(key), n, JSON.stringify(key));
    }
    const index = new KeyIndex();
    const keys = ['7', '07', '007', '7 ', '-7', '2147483647', '2147483648', '0', '00'];
    keys.forEach((k, slot) => index.add(k, slot));
    keys.forEach((k, slot) => assert.equal(index.get(k), slot, JSON.stringify(k)));
    assert.equal(index.get('8'), -1);
    assert.equal(index.get('0007'), -1);
    index.remove(0);
    assert.equal(index.get('7'), -1);
    assert.equal(index.get('07'), 1);
  });
});

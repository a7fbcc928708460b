/**
 * The name of a MySQL database's load lock (src/warehouse/mysql/sql.ts loadLockName), without a server: MySQL
 * 5.7 and later refuse a GET_LOCK name over 64 characters, and a server whose database names are not
 * case-sensitive has one database, so one lock, for Shop and shop. (Taking the lock on a real server:
 * test/faults.test.ts.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadLockName } from '../../src/warehouse/mysql/sql.ts';

describe("a MySQL database's load lock", () => {
  it('is orders-etl:<database> where that fits', () => {
    assert.equal(loadLockName('shop', false), 'orders-etl:shop');
    assert.equal(loadLockName('Shop', false), 'orders-etl:Shop');
    const longest = `d${'x'.repeat(52)}`;
    assert.equal(loadLockName(longest, false), `orders-etl:${longest}`);
    assert.equal(loadLockName(longest, false).length, 64);
  });

  it('is at most 64 characters for any database name (up to 64 of them), and tells them apart', () => {
    const names = [`d${'x'.repeat(53)}`, `d${'x'.repeat(62)}y`, `d${'x'.repeat(62)}z`, 'é'.repeat(64)];
    const locks = names.map((n) => loadLockName(n, false));
    for (const lock of locks) assert.ok(lock.length <= 64 && lock.startsWith('orders-etl:'), lock);
    assert.equal(new Set(locks).size, names.length);
  });

  it('is the same for names that differ in case only where the server compares them so', () => {
    assert.equal(loadLockName('Shop', true), loadLockName('shop', true));
    assert.notEqual(loadLockName('Shop', false), loadLockName('shop', false));
    const long = `Shop${'X'.repeat(60)}`;
    assert.equal(loadLockName(long, true), loadLockName(long.toLowerCase(), true));
  });
});

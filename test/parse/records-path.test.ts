/**
 * --records-path and the shape of the top level, for both parsers, fed 1, 7 and 65536 bytes at a time: the
 * array at the path streams like a top-level array (indexes from 0 within it, byte offsets absolute), what
 * lies around it is validated and skipped without being kept, and a path that leads nowhere, or a top level
 * that holds no orders, is a clear error naming what is there.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { EtlError } from '../../src/errors.ts';
import type { InputFormat, ParserKind, RawRecord } from '../../src/model.ts';
import { parseRecordsPath } from '../../src/options.ts';
import { parseChunks } from '../helpers/parse.ts';

interface Opts {
  path?: string;
  format?: InputFormat;
  requireOrders?: boolean;
  maxRecordBytes?: number;
}

function parse(kind: ParserKind, input: string | Buffer | Iterable<Buffer>, slice: number, o: Opts = {}): Promise<RawRecord[]> {
  return parseChunks(kind, typeof input === 'string' ? Buffer.from(input) : input, slice, {
    format: o.format ?? 'json',
    source: 'export.json',
    maxRecordBytes: o.maxRecordBytes ?? 1 << 20,
    recordsPath: o.path === undefined ? null : parseRecordsPath(o.path),
    requireOrders: o.requireOrders ?? true,
  });
}

async function parseError(kind: ParserKind, input: string | Buffer, o: Opts = {}, slice = 1 << 16): Promise<EtlError> {
  try {
    await parse(kind, input, slice, o);
  } catch (err) {
    assert.ok(err instanceof EtlError, String(err));
    return err;
  }
  assert.fail('expected an error');
}

const ORDERS = [
  { order_id: 1, order_date: '2024-01-01', customer: { customer_id: 7 }, products: [], note: 'a ] and a } and a \\" inside' },
  { order_id: '2', order_date: '2024-01-02', customer: { customer_id: 'Zoë 😀' }, products: [{ product_id: 'P1', quantity: 1 }] },
  { order_id: 3, order_date: '2024-01-03', customer: { customer_id: 9 }, products: [] },
];

/** Siblings that a naive scan would trip over: brackets and quotes in strings, escapes, nesting, literals. */
const SIBLINGS = {
  meta: { exported: '2024-06-01', tricky: ['}', ']', '"', '\\', { '[': '{' }], deep: [[[[{ a: null }]]]] },
  count: 3,
  ok: true,
  'emoji 😀': '\u2028 \\u0041',
};

for (const kind of ['scanner', 'stream-json'] as const) describe(`--records-path with the ${kind} parser`, () => {
  for (const slice of [1, 7, 1 << 16]) {
    it(`streams the array at the path, siblings before and after, fed ${slice} byte(s) at a time`, async () => {
      const doc = JSON.stringify({ ...SIBLINGS, orders: ORDERS, after: SIBLINGS }, null, 2);
      const got = await parse(kind, doc, slice, { path: 'orders' });
      assert.deepEqual(got.map((r) => r.value), ORDERS);
      assert.deepEqual(got.map((r) => r.index), [0, 1, 2], 'indexes count from 0 within the array');
      if (kind === 'scanner') {
        const bytes = Buffer.from(doc);
        for (const r of got) {
          assert.equal(bytes.subarray(r.offset!, r.offset! + Buffer.byteLength(r.text)).toString(), r.text, 'offsets are absolute');
          assert.equal(r.line, bytes.subarray(0, r.offset!).toString().split('\n').length, 'lines are absolute');
        }
      }
    });

    it(`descends a dotted path, and a key written with an escape or a dot, fed ${slice} byte(s) at a time`, async () => {
      const nested = `{"page": {"n": 1}, "data": {"v1.2": {"or\\u0064ers": ${JSON.stringify(ORDERS)}}, "x": [1]}}`;
      const got = await parse(kind, nested, slice, { path: 'data.v1\\.2.orders' });
      assert.deepEqual(got.map((r) => r.value), ORDERS);
    });
  }

  it('gives no records for an empty array, with a BOM and whitespace around', async () => {
    assert.deepEqual(await parse(kind, '\ufeff {"orders" : [ ] } \n', 3, { path: 'orders' }), []);
  });

  it('names the keys that are there when the path is not, and suggests the array', async () => {
    const err = await parseError(kind, JSON.stringify({ meta: {}, results: ORDERS, total: 3 }), { path: 'orders' });
    assert.equal(err.code, 'E_PARSE');
    assert.match(err.message, /^export\.json: .*--records-path orders: no key "orders" at the top level \(its keys: "meta" \(an object\), "results" \(an array\), "total" \(a number\)\); did you mean --records-path results\?/);
    const deep = await parseError(kind, JSON.stringify({ data: { items: ORDERS } }), { path: 'data.orders' });
    assert.match(deep.message, /no key "orders" in the object at data \(its keys: "items" \(an array\)\); did you mean --records-path data\.items\?/);
    // A path with a dot or a space is suggested as one shell word: pasted, it is the path that finds the array.
    const odd = await parseError(kind, JSON.stringify({ 'v1.2': { 'my orders': ORDERS } }), { path: 'v1\\.2.orders' });
    const suggested = /did you mean --records-path (.*)\?$/.exec(odd.message)?.[1];
    assert.equal(suggested, "'v1\\.2.my orders'", odd.message);
    const word = execFileSync('sh', ['-c', `printf '%s' ${suggested}`]).toString('utf8');
    assert.deepEqual(parseRecordsPath(word), ['v1.2', 'my orders']);
    assert.deepEqual((await parse(kind, JSON.stringify({ 'v1.2': { 'my orders': ORDERS } }), 1 << 16, { path: word })).map((r) => r.value), ORDERS);
    const empty = await parseError(kind, '{}', { path: 'orders' });
    assert.match(empty.message, /no key "orders" at the top level \(it is an empty object\)/);
  });

  it('refuses a path that leads to something that is not an array, or through something that is not an object', async () => {
    assert.match((await parseError(kind, '{"orders": {"a": 1}}', { path: 'orders' })).message, /--records-path orders: the value at orders is an object, not an array of orders/);
    assert.match((await parseError(kind, '{"orders": "none"}', { path: 'orders' })).message, /the value at orders is a string, not an array of orders/);
    assert.match((await parseError(kind, '{"data": [1]}', { path: 'data.orders' })).message, /--records-path data\.orders: the value at data is an array, not an object/);
    assert.match((await parseError(kind, JSON.stringify(ORDERS), { path: 'orders' })).message, /the top level is an array, not an object \(leave out --records-path/);
    assert.match((await parseError(kind, '"orders"', { path: 'orders' })).message, /the top level is a string, not an object/);
  });

  it('finds the array among random keys and strings full of backslashes, quotes and brackets, fed 1 to 5 bytes at a time', async () => {
    // Runs of backslashes split at every byte: a quote after an odd run is escaped, after an even one it ends
    // the string, in keys on the path, in keys and strings skipped, and in the orders themselves.
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ALPHABET = ['\\', '\\', '\\', '"', '}', ']', '{', '[', '.', ',', ':', 'a', 'é', ' '];
    const text = () => Array.from({ length: random(8) }, () => ALPHABET[random(ALPHABET.length)]).join('');
    const pathKey = (k: string) => k.replace(/[\\.]/g, (c) => `\\${c}`);
    for (let round = 0; round < 25; round++) {
      const outer = `k${text()}`;
      const inner = `o${text()}`;
      const orders = ORDERS.map((o) => ({ ...o, note: text() }));
      const siblings = () => Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`${i}${text()}`, random(2) ? text() : [text(), { [text()]: text() }]]));
      const doc = JSON.stringify({ ...siblings(), [outer]: { ...siblings(), [inner]: orders, [`z${text()}`]: text() }, [`y${text()}`]: siblings() });
      for (const slice of [1, 2, 3, 5]) {
        const got = await parse(kind, doc, slice, { path: `${pathKey(outer)}.${pathKey(inner)}` });
        assert.deepEqual(got.map((r) => r.value), orders, `round ${round}, ${slice} byte(s) at a time: ${doc}`);
      }
    }
  });

  it('refuses a key of the path that appears twice, instead of loading one of the arrays', async () => {
    const err = await parseError(kind, `{"orders": ${JSON.stringify(ORDERS)}, "orders": []}`, { path: 'orders' });
    assert.match(err.message, /the key "orders" appears twice/);
  });

  it('validates what it skips: malformed JSON beside the array, a truncated document, trailing data', async () => {
    for (const bad of ['{"meta": {"a": ]], "orders": []}', '{"meta": tru, "orders": []}', '{"meta": "\t", "orders": []}', '{"meta" 1, "orders": []}', '{"orders": [], }', '{"orders": []} x']) {
      const err = await parseError(kind, bad, { path: 'orders' });
      assert.equal(err.code, 'E_PARSE', bad);
    }
    for (const cut of ['{"orders": [', '{"orders": [{"order_id": 1}', '{"orders": [], "x": [1,', '{"orders": []', '']) {
      const err = await parseError(kind, cut, { path: 'orders' });
      assert.equal(err.code, 'E_PARSE', JSON.stringify(cut));
    }
    const bytes = Buffer.concat([Buffer.from('{"meta": "'), Buffer.from([0xc3, 0x28]), Buffer.from('", "orders": []}')]);
    assert.equal((await parseError(kind, bytes, { path: 'orders' })).code, 'E_ENCODING');
  });

  it('names the byte and line of malformed JSON beside the array, however the input is cut', { skip: kind !== 'scanner' && 'stream-json reports no positions' }, async () => {
    // The verifier finds an error only after the lexeme that holds it, often in a later chunk than the error.
    const cases = [
      ['{"é€😀":\n "ab\tc", "orders": []}', '\t'],
      ['{"orders": [{"order_id": 1}\n],\r\n "\u2028é":\n 12x}', 'x'],
      [`{"meta": "${'y'.repeat(700)}\\q", "orders": []}`, '\\q'],
      // Cut short right after it: the error, not "truncated".
      ['{"orders": [],\n "x": "a\u0001b', '\u0001'],
    ] as const;
    for (const [doc, bad] of cases) {
      const bytes = Buffer.from(doc);
      const at = bytes.indexOf(bad);
      for (const slice of [1, 2, 3, 5, 1 << 16]) {
        const err = await parseError(kind, bytes, { path: 'orders' }, slice);
        assert.equal(err.context.byteOffset, at, `${JSON.stringify(doc)}, ${slice}: ${err.message}`);
        assert.equal(err.context.line, bytes.subarray(0, at).toString().split('\n').length, `${JSON.stringify(doc)}, ${slice}: ${err.message}`);
      }
    }
  });

  it('skips a sibling far larger than --max-record-bytes without keeping it', async () => {
    // 64 MiB of sibling string, then a sibling array of 64 MiB, generated chunk by chunk, never whole.
    function* doc(): Generator<Buffer> {
      yield Buffer.from('{"blob": "');
      const piece = Buffer.alloc(1 << 16, 'x');
      for (let i = 0; i < 1024; i++) yield piece;
      yield Buffer.from('", "list": [');
      const items = Buffer.from('1,'.repeat(1 << 15));
      for (let i = 0; i < 1024; i++) yield items;
      yield Buffer.from(`0], "orders": ${JSON.stringify(ORDERS)}}`);
    }
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed - before)), 5);
    try {
      const got = await parse(kind, doc(), 0, { path: 'orders', maxRecordBytes: 1024 });
      assert.deepEqual(got.map((r) => r.value), ORDERS);
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak < 48 * 1024 * 1024, `heap grew by ${Math.round(peak / 1048576)} MiB while skipping 128 MiB`);
  });

  it('skips keys and numbers far larger than --max-record-bytes without keeping them', async () => {
    // A key of 64 MiB at the top, one inside a sibling, and a number of 64 MiB: stream-json packed keys and
    // numbers whole, and a key of 300 MB ran out of the default heap.
    // The heap is sampled as each piece is asked for, after the one before was parsed.
    const before = process.memoryUsage().heapUsed;
    let peak = 0;
    function* doc(): Generator<Buffer> {
      const keyPiece = Buffer.alloc(1 << 16, 'k');
      const digits = Buffer.alloc(1 << 16, '7');
      const sampled = function* (piece: Buffer) {
        for (let i = 0; i < 1024; i++) {
          yield piece;
          peak = Math.max(peak, process.memoryUsage().heapUsed - before);
        }
      };
      yield Buffer.from('{"');
      yield* sampled(keyPiece);
      yield Buffer.from('": 1, "meta": {"');
      yield* sampled(keyPiece);
      yield Buffer.from('": [2]}, "n": 1');
      yield* sampled(digits);
      yield Buffer.from(`, "orders": ${JSON.stringify(ORDERS)}, "after": {"x": -0.5e3}}`);
    }
    const got = await parse(kind, doc(), 0, { path: 'orders', maxRecordBytes: 1024 });
    assert.deepEqual(got.map((r) => r.value), ORDERS);
    assert.ok(peak < 48 * 1024 * 1024, `heap grew by ${Math.round(peak / 1048576)} MiB while skipping 192 MiB of keys and digits`);
  });

  it('applies --max-record-bytes to the records at the path', async () => {
    const big = JSON.stringify({ orders: [{ order_id: 1, pad: 'x'.repeat(5000) }] });
    const err = await parseError(kind, big, { path: 'orders', maxRecordBytes: 1024 }, 100);
    assert.equal(err.code, 'E_RECORD_TOO_LARGE');
  });
});

for (const kind of ['scanner', 'stream-json'] as const) describe(`the top level without --records-path, ${kind} parser`, () => {
  it('reads a top-level object that is an order as one record, as before', async () => {
    const got = await parse(kind, JSON.stringify(ORDERS[0]), 5);
    assert.deepEqual(got.map((r) => r.value), [ORDERS[0]]);
    // An invalid order is still an order: it is rejected later, with its reason.
    assert.equal((await parse(kind, '{"customer": {}, "products": []}', 5)).length, 1);
  });

  it('refuses a wrapped export, naming its keys and the --records-path that reaches the array', async () => {
    const err = await parseError(kind, JSON.stringify({ meta: { n: 3 }, orders: ORDERS }));
    assert.equal(err.code, 'E_PARSE');
    assert.match(err.message, /the top level is an object with the keys "meta" \(an object\), "orders" \(an array\), not an order \(no order_id\); if the orders are the array under "orders", load them with --records-path orders/);
    const nested = await parseError(kind, JSON.stringify({ data: { page: 1, results: ORDERS } }));
    assert.match(nested.message, /--records-path data\.results/);
    const many = await parseError(kind, JSON.stringify(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k${i}`, i]))));
    assert.match(many.message, /"k7" \(a number\), and 4 more, not an order \(no order_id\); if the orders are an array inside it, give its path with --records-path/);
    assert.match((await parseError(kind, '"hello"')).message, /the top level is a string, not an order or an array of orders/);
  });

  it('says the same of a wrapped export too large to read as one record', async () => {
    const doc = JSON.stringify({ meta: { n: 3 }, results: Array.from({ length: 200 }, () => ORDERS[1]) });
    const err = await parseError(kind, doc, { maxRecordBytes: 2048 }, 512);
    assert.equal(err.code, 'E_PARSE');
    assert.match(err.message, /"meta" \(an object\), "results" \(an array\) \(the part read so far\), not an order.*--records-path results/);
  });

  it('leaves NDJSON alone: each line is a record, whatever the first one is', async () => {
    const got = await parse(kind, '{"meta": 1}\n{"order_id": 1}\n', 4, { format: 'ndjson' });
    assert.equal(got.length, 2);
  });

  it('reads an auto format (standard input, a name without an extension) as its first byte says, fed 1 to 7 bytes at a time', async () => {
    const lines = ORDERS.map((o) => JSON.stringify(o)).join('\n');
    for (const slice of [1, 2, 7]) {
      assert.deepEqual((await parse(kind, ` \n${lines}\n`, slice, { format: 'auto' })).map((r) => r.value), ORDERS, `JSON Lines, ${slice}`);
      assert.deepEqual((await parse(kind, `\n${JSON.stringify(ORDERS)}`, slice, { format: 'auto' })).map((r) => r.value), ORDERS, `an array, ${slice}`);
      // An array is one document, as in the json format: nothing may follow it.
      assert.equal((await parseError(kind, `${JSON.stringify(ORDERS)} [1]`, { format: 'auto' }, slice)).code, 'E_PARSE');
      assert.match((await parseError(kind, `${lines}\n{"order_id": tru}\n`, { format: 'auto' }, slice)).message, /record 3/);
    }
    assert.match((await parseError(kind, ' \n', { format: 'auto' })).message, /empty/);
  });

  it('is plain JSON when the load does not ask for orders (the conformance tests)', async () => {
    assert.equal((await parse(kind, '{"meta": 1}', 4, { requireOrders: false })).length, 1);
  });
});

describe('--records-path validation', () => {
  it('takes dotted keys, with \\. for a dot inside a key, and refuses empty keys', () => {
    assert.deepEqual(parseRecordsPath('orders'), ['orders']);
    assert.deepEqual(parseRecordsPath('data.orders'), ['data', 'orders']);
    assert.deepEqual(parseRecordsPath('v1\\.2.orders'), ['v1.2', 'orders']);
    assert.deepEqual(parseRecordsPath('a\\\\b'), ['a\\b']);
    for (const bad of ['', '.orders', 'orders.', 'a..b', 'a\\b']) {
      assert.throws(() => parseRecordsPath(bad), (err: unknown) => err instanceof EtlError && err.code === 'E_USAGE' && /--records-path: .* is not allowed; expected a dotted path/.test(err.message), bad);
    }
  });
});

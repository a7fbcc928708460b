/**
 * DecodeStream (src/sources/decode.ts) on gzip's edges, fed as a slow network or a pipe feeds it: zero
 * padding after the last member (ignored, as gzip -d ignores it), data after the padding (refused: zlib
 * would drop it), and members split at any byte. End to end through the CLI: test/input-shapes.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { DecodeStream } from '../../src/sources/decode.ts';

const LIMITS = { maxRatio: 1e9, maxBytes: 1e12 };
const text = Buffer.from('[' + Array.from({ length: 2000 }, (_, i) => `{"order_id": ${i}}`).join(',') + ']\n');
const gz = gzipSync(text);

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

/** Decode `input` fed in pieces of `size` bytes; `stall`: the reader takes nothing until `stall()` says so. */
async function decode(input: Buffer, size: number, watch?: (d: DecodeStream) => void, stall?: () => Promise<void>): Promise<Buffer> {
  const d = new DecodeStream('test.json.gz', LIMITS);
  const out: Buffer[] = [];
  let first = true;
  await pipeline(
    Readable.from(chunks(input, size), { objectMode: false }),
    d,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        watch?.(d);
        if (first && stall) {
          first = false;
          stall().then(() => cb(), cb);
        } else cb();
      },
    }),
  );
  return Buffer.concat(out);
}

describe('gzip edges in DecodeStream', () => {
  it('ignores zero padding after the last member, in the same chunk or in chunks after it', async () => {
    for (const size of [7, 8192, 256 * 1024]) {
      const got = await decode(Buffer.concat([gz, Buffer.alloc(100_000)]), size);
      assert.ok(got.equals(text), `pieces of ${size}`);
    }
  });

  it('reads every member of a multi-member gzip, split at any byte', async () => {
    const two = Buffer.concat([gz, gz]);
    for (const size of [1, 13, gz.length, gz.length - 1, gz.length + 1]) {
      assert.ok((await decode(two, size)).equals(Buffer.concat([text, text])), `pieces of ${size}`);
    }
  });

  it('refuses a member or other data after the padding, wherever the pieces fall', async () => {
    for (const tail of [gz, Buffer.from('x')]) {
      for (const size of [5, 512, 8192, 256 * 1024]) {
        await assert.rejects(decode(Buffer.concat([gz, Buffer.alloc(4096), tail]), size), /data after the end of the gzip stream that is not zero padding/, `pieces of ${size}`);
      }
    }
  });

  it('says where in the compressed bytes gzip broke: the piece zlib failed in, or the end', async () => {
    for (const size of [1, 512, 8192, 256 * 1024]) {
      // Not a gzip member after a whole one: zlib fails in the piece that holds the bad header.
      const err = await decode(Buffer.concat([gz, Buffer.from('not gzip')]), size).then(() => assert.fail('no error'), (e: unknown) => e);
      const m = /^test\.json\.gz: byte (\d+): not valid gzip \(truncated or corrupt\) in compressed bytes (\d+) to (\d+): /.exec(String((err as Error).message));
      assert.ok(m, String(err));
      const [from, to] = [Number(m[2]), Number(m[3])];
      assert.equal(Number(m[1]), from);
      assert.ok(from <= gz.length + 1 && gz.length + 1 <= to && to - from < size, `pieces of ${size}: ${from} to ${to}`);
      // Cut short: the error is at the end, after every compressed byte.
      await assert.rejects(decode(gz.subarray(0, 300), size), new RegExp(`test\\.json\\.gz: byte 300: not valid gzip \\(truncated or corrupt\\) at its end, after 300 compressed bytes: unexpected end of file`), `pieces of ${size}`);
    }
  });
});

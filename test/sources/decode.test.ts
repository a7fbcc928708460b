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

  it('says where in the compressed bytes gzip broke: the piece zlib failed in, the checksum, the end, the first byte after the padding', async () => {
    const error = (input: Buffer, size: number) => decode(input, size).then(() => assert.fail('no error'), (e: unknown) => String((e as Error).message));
    for (const size of [1, 512, 8192, 256 * 1024]) {
      // Not a gzip member after a whole one: zlib fails in the piece that holds the bad header.
      const header = await error(Buffer.concat([gz, Buffer.from('not gzip')]), size);
      const m = /^test\.json\.gz: byte (\d+): not valid gzip \(corrupt\) in compressed bytes (\d+) to (\d+): incorrect header check$/.exec(header);
      assert.ok(m, header);
      const [from, to] = [Number(m[2]), Number(m[3])];
      assert.equal(Number(m[1]), from);
      assert.ok(from <= gz.length + 1 && gz.length + 1 <= to && to - from < Math.max(size, 2), `pieces of ${size}: ${from} to ${to}`);
      // The CRC at the member's end changed (as damage that still inflates would leave it): only the checksum
      // tells, and the message says the damage may be anywhere in the member, with no byte offset of its own.
      const flipped = Buffer.from(gz);
      flipped[gz.length - 8] ^= 0xff; // the CRC itself: the data inflates as it was
      const crc = await error(flipped, size);
      assert.match(crc, /^test\.json\.gz: not valid gzip \(corrupt\): the checksum at the end of a gzip member, in compressed bytes \d+ to \d+, does not match its data \(incorrect data check\): the damage may be anywhere in that member$/);
      // Cut short: the data ends inside a member, after every compressed byte.
      assert.equal(await error(gz.subarray(0, 300), size), 'test.json.gz: not valid gzip: the data ends inside a gzip member, after 300 compressed bytes: the file is cut short, or bytes after its last member are not gzip (unexpected end of file)');
      // Data after zero padding: the offset of its first byte.
      const padded = Buffer.concat([gz, Buffer.alloc(4096), Buffer.from('x')]);
      assert.match(await error(padded, size), new RegExp(`^test\\.json\\.gz: byte ${gz.length + 4096}: not valid gzip: data after the end of the gzip stream that is not zero padding`));
    }
  });
});

/**
 * A real S3 HTTP server on loopback (s3rver in its own process, storing objects in a temp folder), and a fault-injecting TCP
 * proxy of our own in front of it that cuts or stalls connections after a number of bytes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

export const BUCKET = 'exports';
/** s3rver's built-in account. */
export const S3_ENV = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };

export interface TestS3 {
  endpoint: string;
  put(key: string, body: Buffer | string): Promise<void>;
  /**
   * From now on (until the key is put again) s3rver answers every HEAD and GET of the key with HTTP 500
   * InternalError: the metadata it keeps beside the object, and reads for both, no longer parses.
   */
  breakObject(key: string): void;
  close(): Promise<void>;
}

export async function startS3(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'orders-etl-s3-'));
  const child = spawn(process.execPath, ['--openssl-legacy-provider', fileURLToPath(new URL('./s3rver-process.mjs', import.meta.url)), dir, BUCKET], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const endpoint = `http://127.0.0.1:${(JSON.parse(line) as { port: number }).port}`;
  const client = new S3Client({
    endpoint,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    async put(key, body) {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
    },
    breakObject(key) {
      // s3rver's file store: <dir>/<bucket>/<key>._S3rver_metadata.json (keys are paths as they are on POSIX).
      writeFileSync(join(dir, BUCKET, `${key}._S3rver_metadata.json`), 'not JSON');
    },
    async close() {
      client.destroy();
      child.stdin!.end();
      if (child.exitCode === null) await once(child, 'exit');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type Fault = { after: number; kind: 'cut' | 'stall' };

export interface FaultProxy {
  endpoint: string;
  /** Faults not yet triggered. */
  pending(): number;
  /** The head (request line and headers) of every request the proxy received, in order. */
  requests(): string[];
  close(): Promise<void>;
}

/**
 * A proxy that ignores Range, as some do: a request with a Range header is answered by the proxy itself with
 * HTTP 200 and the whole object (its bytes and ETag, as the real server has them).
 */
export interface IgnoreRange {
  body: Buffer;
  etag: string;
}

/**
 * Forwards TCP to `target`. Each fault, in order, fires on the first connection whose server-to-client bytes
 * pass `after`: `cut` destroys both sides; `stall` stops forwarding and holds the connection open. With
 * `ignoreRange`, ranged requests never reach the server (see IgnoreRange); with `answer`, a request for which it
 * returns a raw HTTP response gets that response and not the server's (an answer S3 gives that s3rver cannot). Every request's head is recorded
 * (requests()): what a test counts and what it finds signed how.
 */
export async function startFaultProxy(target: string, faults: Fault[], opts: { ignoreRange?: IgnoreRange; answer?: (head: string) => string | null } = {}): Promise<FaultProxy> {
  const { hostname, port } = new URL(target);
  const queue = [...faults];
  const sockets = new Set<net.Socket>();
  const heads: string[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    sockets.add(client);
    sockets.add(upstream);
    let down = 0;
    let stalled = false;
    // Requests follow one another on a kept-alive connection, each a head and then as many bytes of body as its
    // Content-Length says (the SDK sends no chunked bodies): the next head starts after them.
    let head = '';
    let bodyLeft = 0;
    const record = (d: Buffer) => {
      let text = d.toString('latin1');
      while (text !== '') {
        if (bodyLeft > 0) {
          const n = Math.min(bodyLeft, text.length);
          bodyLeft -= n;
          text = text.slice(n);
          continue;
        }
        head += text;
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        text = head.slice(end + 4);
        head = head.slice(0, end);
        heads.push(head);
        bodyLeft = Number(/^content-length:\s*(\d+)/im.exec(head)?.[1] ?? 0);
        head = '';
      }
    };
    client.on('data', (d: Buffer) => {
      record(d);
      const reqHead = d.toString('latin1').split('\r\n\r\n')[0]!;
      const own = opts.answer?.(reqHead);
      if (own != null) {
        client.end(own);
        upstream.destroy();
        return;
      }
      const range = opts.ignoreRange;
      if (range && /^range:/im.test(reqHead)) {
        client.end(
          Buffer.concat([
            Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${range.body.length}\r\nETag: ${range.etag}\r\nConnection: close\r\n\r\n`),
            range.body,
          ]),
        );
        upstream.destroy();
        return;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (stalled) return;
      const f = queue[0];
      if (f && down + d.length > f.after) {
        queue.shift();
        const keep = Math.max(0, f.after - down);
        client.write(d.subarray(0, keep));
        if (f.kind === 'cut') {
          client.destroy();
          upstream.destroy();
        } else {
          stalled = true;
        }
        down += keep;
        return;
      }
      down += d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', () => {
      if (!stalled) end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as net.AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    pending: () => queue.length,
    requests: () => [...heads],
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

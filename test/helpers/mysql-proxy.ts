import net from 'node:net';

/**
 * A TCP proxy in front of the real MySQL server that cuts one connection in the middle of an answer: when a
 * client's COM_QUERY matches a rule (its n-th match across connections), the proxy forwards the query, then
 * forwards at most `afterBytes` of the server's answer and cuts both sockets of that connection. Other
 * connections and queries pass untouched. Plain (non-TLS) client protocol only.
 *
 * - startCommitDropProxy: the n-th COMMIT is committed by the server, and its OK never arrives. The client
 *   cannot know the outcome: exactly the case the engine settles from its ledger.
 * - startQueryCutProxy: a query's result set is cut off after some rows (a read connection that dies
 *   mid-stream).
 */

export interface MysqlProxy {
  /** The URL to give the engine: the same database, through the proxy. */
  url: string;
  /** Queries that matched the rule so far. */
  matches(): number;
  close(): Promise<void>;
}

export interface CommitDropProxy extends MysqlProxy {
  /** COMMIT statements seen so far. */
  commits(): number;
}

const COM_QUERY = 0x03;

export async function startCommitDropProxy(targetUrl: string, dropCommit: number): Promise<CommitDropProxy> {
  const proxy = await startQueryCutProxy(targetUrl, /^\s*COMMIT\s*$/i, dropCommit, 0);
  return { ...proxy, commits: proxy.matches };
}

/** Cut the connection that sends the `nth` query matching `match`, after `afterBytes` of its answer. */
export async function startQueryCutProxy(targetUrl: string, match: RegExp, nth: number, afterBytes: number): Promise<MysqlProxy> {
  const target = new URL(targetUrl);
  let matches = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 3306), target.hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    // Bytes of the answer still to forward before the cut; null: no cut on this connection.
    let left: number | null = null;
    client.on('data', (d: Buffer) => {
      // Packets: 3-byte little-endian length, 1-byte sequence, payload.
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4) {
        const len = pending[0]! | (pending[1]! << 8) | (pending[2]! << 16);
        if (pending.length < 4 + len) break;
        const payload = pending.subarray(4, 4 + len);
        if (payload[0] === COM_QUERY && match.test(payload.subarray(1).toString('latin1'))) {
          if (++matches === nth) left = afterBytes;
        }
        pending = pending.subarray(4 + len);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (left !== null && d.length >= left) {
        if (left > 0) client.write(d.subarray(0, left));
        client.end();
        client.destroy();
        upstream.destroy();
        return;
      }
      if (left !== null) left -= d.length;
      client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = new URL(targetUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    matches: () => matches,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

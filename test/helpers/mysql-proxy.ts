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
 *
 * startFreezingProxy stops forwarding anything after a given query: a server process that is stuck.
 *
 * startCountingProxy forwards everything, and counts the connections made through it; with `hideTls`, it
 * clears the TLS flag in the server's greeting: the real server, as one without TLS appears to a client; with
 * `closeOnReply`, it closes each connection when the client first answers the greeting: under TLS, as the
 * client starts its TLS handshake (a connection dropped during the handshake); with `ownIds`, it puts an id of
 * its own in place of the connection id in each greeting, as ProxySQL and MaxScale do: the id a client sees is
 * no thread of the server's (or, given a number, that id: another session's thread on the server); with `slowAfterFirstMs`, connections after the first get each of the server's bytes
 * that long late: a server slow to take new connections (busy, or resolving the client's name).
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
  let matches = 0;
  const proxy = await listenProxy(targetUrl, (client, upstream) => {
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
  });
  return { ...proxy, matches: () => matches };
}

export interface FreezingProxy extends MysqlProxy {
  /** Connections made through the proxy so far. */
  connections(): number;
}

/**
 * A server that gets stuck: once a client sends the `nth` query matching `match`, that query is forwarded and
 * from then on nothing more passes, either way, on any connection, and a new connection never gets the server's
 * greeting. The sockets stay open, as a stopped server process's do while its machine still answers TCP.
 */
export async function startFreezingProxy(targetUrl: string, match: RegExp, nth: number): Promise<FreezingProxy> {
  let matches = 0;
  let connections = 0;
  let frozen = false;
  const proxy = await listenProxy(targetUrl, (client, upstream) => {
    connections++;
    let pending = Buffer.alloc(0);
    client.on('data', (d: Buffer) => {
      if (frozen) return;
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4) {
        const len = pending[0]! | (pending[1]! << 8) | (pending[2]! << 16);
        if (pending.length < 4 + len) break;
        const payload = pending.subarray(4, 4 + len);
        if (payload[0] === COM_QUERY && match.test(payload.subarray(1).toString('latin1')) && ++matches === nth) frozen = true;
        pending = pending.subarray(4 + len);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (!frozen) client.write(d);
    });
  });
  return { ...proxy, matches: () => matches, connections: () => connections };
}

export interface CountingProxy {
  /** The URL to give the engine: the same database, through the proxy. */
  url: string;
  /** Connections made through the proxy so far. */
  connections(): number;
  /** Connections through the proxy still open. */
  open(): number;
  close(): Promise<void>;
}

/** CLIENT_SSL among the capability flags of the server's greeting (the protocol's HandshakeV10). */
const CLIENT_SSL = 0x0800;

export async function startCountingProxy(targetUrl: string, opts: { hideTls?: boolean; closeOnReply?: boolean; ownIds?: boolean | number; slowAfterFirstMs?: number } = {}): Promise<CountingProxy> {
  let connections = 0;
  const proxy = await listenProxy(targetUrl, (client, upstream) => {
    connections++;
    if (opts.slowAfterFirstMs && connections > 1) {
      const late = opts.slowAfterFirstMs;
      const write = client.write.bind(client);
      client.write = ((d: Buffer) => (setTimeout(() => !client.destroyed && write(d), late), true)) as typeof client.write;
    }
    // The greeting, gathered whole before it is forwarded when it is to change; null once forwarded.
    let greeting: Buffer | null = opts.hideTls || opts.ownIds ? Buffer.alloc(0) : null;
    client.on('data', (d: Buffer) => {
      if (!opts.closeOnReply) {
        upstream.write(d);
        return;
      }
      client.destroy();
      upstream.destroy();
    });
    upstream.on('data', (d: Buffer) => {
      if (greeting === null) {
        client.write(d);
        return;
      }
      greeting = Buffer.concat([greeting, d]);
      if (greeting.length < 4) return;
      const len = greeting[0]! | (greeting[1]! << 8) | (greeting[2]! << 16);
      if (greeting.length < 4 + len) return;
      // Payload: protocol version (1 byte), server version (NUL-terminated), connection id (4), the first 8
      // bytes of the auth data, a filler byte, then the lower 2 bytes of the capability flags.
      const idAt = greeting.indexOf(0, 5) + 1;
      const flagsAt = idAt + 4 + 8 + 1;
      if (opts.hideTls) greeting.writeUInt16LE(greeting.readUInt16LE(flagsAt) & ~CLIENT_SSL, flagsAt);
      // Far above the ids of a test server's threads.
      if (opts.ownIds) greeting.writeUInt32LE(typeof opts.ownIds === 'number' ? opts.ownIds : 1_000_000 + connections, idAt);
      client.write(greeting);
      greeting = null;
    });
  });
  return { ...proxy, connections: () => connections };
}

/**
 * A TCP server on loopback in front of `targetUrl`'s server: each client connection gets one upstream, handed
 * to `pair` to wire their data; either side's error or close ends both. The URL names the same database
 * through the proxy.
 */
async function listenProxy(targetUrl: string, pair: (client: net.Socket, upstream: net.Socket) => void): Promise<{ url: string; open(): number; close(): Promise<void> }> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  let open = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 3306), target.hostname);
    sockets.add(client).add(upstream);
    open++;
    client.once('close', () => open--);
    pair(client, upstream);
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
    open: () => open,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

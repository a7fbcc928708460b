/**
 * A TCP proxy in front of the real MySQL server that loses the answer to one COMMIT: it forwards the n-th
 * COMMIT statement to the server (which commits it) and then, instead of forwarding the server's OK, cuts both
 * connections. The client sees its connection die during COMMIT and cannot know the outcome: exactly the
 * case the engine settles from its ledger. Plain (non-TLS) client protocol only.
 */
import net from 'node:net';

export interface CommitDropProxy {
  /** The URL to give the engine: the same database, through the proxy. */
  url: string;
  /** COMMIT statements seen so far. */
  commits(): number;
  close(): Promise<void>;
}

const COM_QUERY = 0x03;

export async function startCommitDropProxy(targetUrl: string, dropCommit: number): Promise<CommitDropProxy> {
  const target = new URL(targetUrl);
  let commits = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 3306), target.hostname);
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    let dropAnswer = false;
    client.on('data', (d: Buffer) => {
      // Packets: 3-byte little-endian length, 1-byte sequence, payload. Watch for COM_QUERY "COMMIT".
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 4) {
        const len = pending[0]! | (pending[1]! << 8) | (pending[2]! << 16);
        if (pending.length < 4 + len) break;
        const payload = pending.subarray(4, 4 + len);
        if (payload[0] === COM_QUERY && /^\s*COMMIT\s*$/i.test(payload.subarray(1).toString('latin1'))) {
          if (++commits === dropCommit) dropAnswer = true;
        }
        pending = pending.subarray(4 + len);
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (dropAnswer) {
        client.destroy();
        upstream.destroy();
        return;
      }
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
    commits: () => commits,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

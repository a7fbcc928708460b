/**
 * A private MariaDB (or MySQL) server for the tests: its own data directory in a temp folder, a free port on
 * 127.0.0.1 and its own socket, run as the current user, TLS on with a certificate authority and a server
 * certificate generated for it. Nobody else uses it, so tests may change its global variables, and its settings
 * favour speed over durability.
 *
 * The server belongs to a keeper process (mariadb-process.ts) that stops it and removes the folder when its
 * stdin closes or it gets SIGINT/SIGTERM/SIGHUP: whoever spawned the keeper (test/run.ts for a whole run, or a
 * test file run on its own) may end in any way, SIGKILL included, and the server goes with it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';

export const INSTALL_HINT =
  'install the MariaDB server binaries (Debian/Ubuntu: apt-get install mariadb-server; the system service need not run), ' +
  'or set MYSQL_URL=mysql://user:password@host:port/database to use a server of your own';

/** What the tests need to know about the private server; travels to test processes as JSON. */
export interface PrivateServer {
  /** mysql://root@127.0.0.1:<port>/test: root without a password, over TCP; TLS when a client asks for it. */
  url: string;
  host: string;
  port: number;
  socket: string;
  /** The folder holding everything (data, socket, certificates, log); removed when the server stops. */
  dir: string;
  /** As the server reports it in @@datadir: proves a connection reached this server and no other. */
  datadir: string;
  version: string;
  /** The CA that signed the server certificate (subject alternative names: IP 127.0.0.1 and SERVER_NAME). */
  caFile: string;
  /** A CA that signed nothing the server presents. */
  otherCaFile: string;
}

interface Binaries {
  server: string;
  flavor: 'mariadb' | 'mysql';
  version: string;
  /** MariaDB: mariadb-install-db or mysql_install_db; MySQL initializes with the server binary itself. */
  installDb: string | null;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first of `names` in `dirs`, then on the PATH. */
function which(names: string[], dirs: string[] = []): string | null {
  const path = [...dirs, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean)];
  for (const name of names) for (const dir of path) if (executable(join(dir, name))) return join(dir, name);
  return null;
}

/**
 * mariadbd or mysqld on the PATH, or in the sbin folders where Debian puts them, which are not on an ordinary
 * user's PATH. Null when there is none.
 */
export function findServerBinaries(): Binaries | null {
  const PATH = process.env.PATH ?? '';
  const sbin = ['/usr/sbin', '/usr/local/sbin'].filter((d) => !PATH.split(delimiter).includes(d));
  const server = which(['mariadbd', 'mysqld']) ?? which(['mariadbd', 'mysqld'], sbin);
  if (!server) return null;
  const version = execFileSync(server, ['--no-defaults', '--version'], { encoding: 'utf8' }).trim();
  if (!/mariadb/i.test(version)) return { server, flavor: 'mysql', version, installDb: null };
  const beside = [dirname(server), join(dirname(server), '..', 'bin'), join(dirname(server), '..', 'scripts')];
  return { server, flavor: 'mariadb', version, installDb: which(['mariadb-install-db'], beside) ?? which(['mysql_install_db'], beside) };
}

/** Runs a setup command; its output only in the error, when it fails. */
function run(cmd: string, args: string[], what: string): void {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${what} failed: ${cmd} ${args.join(' ')}\n${(e.stderr || e.stdout || e.message).trim().slice(-2000)}`);
  }
}

/**
 * The server certificate's only host name, beside IP 127.0.0.1. Not "localhost", on purpose: localhost reaches
 * 127.0.0.1 on practically every system, so it is the portable host name the certificate does not carry (the
 * TLS tests' mismatch). With a DNS name among the alternative names, Node never falls back to the subject's CN.
 */
export const SERVER_NAME = 'orders-etl-test-server.invalid';

const OPENSSL_CONFIG = `
[req]
distinguished_name = dn
prompt = no
[dn]
CN = orders-etl test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:${SERVER_NAME}
authorityKeyIdentifier = keyid
`;

/** A CA, a server certificate it signs, and a second CA that signs nothing: PEM files in `dir`. */
function generateCertificates(dir: string): { ca: string; otherCa: string; cert: string; key: string } {
  const openssl = which(['openssl']);
  if (!openssl) throw new Error('openssl not found: the private test server needs it for its TLS certificates (apt-get install openssl)');
  const config = join(dir, 'openssl.cnf');
  writeFileSync(config, OPENSSL_CONFIG);
  const f = (name: string) => join(dir, name);
  const newCa = (name: string, cn: string) =>
    run(openssl, ['req', '-config', config, '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '7', '-subj', `/CN=${cn}`, '-extensions', 'ca', '-keyout', f(`${name}-key.pem`), '-out', f(`${name}.pem`)], `generating ${cn}`);
  newCa('ca', 'orders-etl test CA');
  newCa('other-ca', 'orders-etl unrelated CA');
  run(openssl, ['req', '-config', config, '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${SERVER_NAME}`, '-keyout', f('server-key.pem'), '-out', f('server.csr')], 'generating the server key');
  run(openssl, ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca-key.pem'), '-CAcreateserial', '-days', '7', '-extfile', config, '-extensions', 'server', '-out', f('server.pem')], 'signing the server certificate');
  return { ca: f('ca.pem'), otherCa: f('other-ca.pem'), cert: f('server.pem'), key: f('server-key.pem') };
}

/** A port nothing listens on right now; the server may still lose it to someone else, so start() retries. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

const asRoot = process.getuid?.() === 0;

/** mariadbd and mysqld refuse to run as root unless told to; as anyone else, they run as that user. */
const userArgs = asRoot ? ['--user=root'] : [];

function initializeDataDirectory(bin: Binaries, datadir: string): void {
  if (bin.flavor === 'mysql') {
    run(bin.server, ['--no-defaults', '--initialize-insecure', `--datadir=${datadir}`, ...userArgs], 'initializing the data directory');
    return;
  }
  if (!bin.installDb) throw new Error(`mariadb-install-db not found beside ${bin.server} or on the PATH: ${INSTALL_HINT}`);
  run(
    bin.installDb,
    [
      '--no-defaults',
      `--datadir=${datadir}`,
      // root without a password (mariadb-install-db only: its older name predates the option and did that anyway).
      ...(bin.installDb.endsWith('mariadb-install-db') ? ['--auth-root-authentication-method=normal'] : []),
      '--skip-test-db',
      '--skip-name-resolve',
      ...userArgs,
    ],
    'initializing the data directory',
  );
}

function serverArgs(bin: Binaries, dir: string, port: number, tls: ReturnType<typeof generateCertificates>): string[] {
  return [
    '--no-defaults',
    ...userArgs,
    `--datadir=${join(dir, 'data')}`,
    `--socket=${join(dir, 'mysqld.sock')}`,
    `--pid-file=${join(dir, 'mysqld.pid')}`,
    `--log-error=${join(dir, 'error.log')}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--ssl-ca=${tls.ca}`,
    `--ssl-cert=${tls.cert}`,
    `--ssl-key=${tls.key}`,
    // The engine's LOAD DATA LOCAL path (MySQL 8 has it off by default).
    '--local-infile=1',
    // Nobody else's data lives here and the folder is deleted at the end: durability buys nothing.
    '--innodb-flush-log-at-trx-commit=2',
    '--skip-innodb-doublewrite',
    '--skip-log-bin',
    ...(bin.flavor === 'mariadb'
      ? // As Debian configures it; the compiled-in default is latin1. root@127.0.0.1 exists, so no DNS needed.
        ['--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci', '--skip-name-resolve']
      : // MySQL's X protocol would listen on 33060 and /tmp/mysqlx.sock, where a system server may be.
        ['--mysqlx=OFF']),
  ];
}

function errorLogTail(dir: string): string {
  const log = join(dir, 'error.log');
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').slice(-15).join('\n') : '(no error log)';
}

export interface ServerHandle {
  /** Resolves once the server answers; rejects when it cannot start (or stop() came first). */
  ready: Promise<PrivateServer>;
  /** Stops the server (SIGTERM, then SIGKILL after 30 s) and removes its folder, at any stage of start-up. */
  stop(): Promise<void>;
}

/** Creates the folder, the certificates and the data directory, and starts the server on a free port. */
export function startServer(): ServerHandle {
  const dir = mkdtempSync(join(tmpdir(), 'orders-etl-mariadb-'));
  let child: ChildProcess | null = null;
  let stopping: Promise<void> | null = null;

  const stopChild = async (c: ChildProcess) => {
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = once(c, 'exit');
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  };

  const ready = (async (): Promise<PrivateServer> => {
    const bin = findServerBinaries();
    if (!bin) throw new Error(`no mariadbd or mysqld found on the PATH or in /usr/sbin: ${INSTALL_HINT}`);
    const tls = generateCertificates(dir);
    initializeDataDirectory(bin, join(dir, 'data'));
    for (let attempt = 1; ; attempt++) {
      if (stopping) throw new Error('stopped before the server was ready');
      const port = await freePort();
      const c = spawn(bin.server, serverArgs(bin, dir, port, tls), { stdio: 'ignore' });
      child = c;
      const exited = once(c, 'exit');
      const server: PrivateServer = {
        url: `mysql://root@127.0.0.1:${port}/test`,
        host: '127.0.0.1',
        port,
        socket: join(dir, 'mysqld.sock'),
        dir,
        datadir: '',
        version: bin.version,
        caFile: tls.ca,
        otherCaFile: tls.otherCa,
      };
      const deadline = Date.now() + 60_000;
      while (c.exitCode === null && c.signalCode === null && !stopping && Date.now() < deadline) {
        try {
          const conn = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root', connectTimeout: 2000 });
          const [rows] = await conn.query('SELECT @@datadir AS datadir');
          await conn.end();
          return { ...server, datadir: (rows as { datadir: string }[])[0]!.datadir };
        } catch {
          await Promise.race([new Promise((r) => setTimeout(r, 100)), exited]);
        }
      }
      if (stopping) throw new Error('stopped before the server was ready');
      const log = errorLogTail(dir);
      const how = c.exitCode !== null || c.signalCode !== null ? 'exited' : 'did not answer within 60 s';
      await stopChild(c);
      // Someone took the port between the probe and the bind: try another.
      if (attempt < 3 && /address already in use|bind on tcp\/ip port/i.test(log)) continue;
      throw new Error(`${bin.server} on 127.0.0.1:${port} ${how}; the end of its error log:\n${log}`);
    }
  })();
  ready.catch(() => {}); // the caller awaits it; this only keeps an early stop() from an unhandled rejection

  return {
    ready,
    stop() {
      stopping ??= (async () => {
        // Start-up steps are synchronous or bounded; once it settles, no new child appears.
        await ready.catch(() => {});
        if (child) await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

export interface KeptServer {
  server: PrivateServer;
  /** Ends the keeper's stdin and waits until it has stopped the server and removed its folder. */
  close(): Promise<void>;
}

const KEEPER = fileURLToPath(new URL('./mariadb-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Spawns a keeper with a private server and waits until the server answers. The keeper runs in its own process
 * group (a Ctrl-C at the terminal reaches the caller, which decides when to stop it) and holds nothing of the
 * caller's open: a test process can exit with it still running, and the closed pipe then stops it.
 */
export async function spawnKeeper(): Promise<KeptServer> {
  const keeper = spawn(process.execPath, ['--import', 'tsx', KEEPER], { cwd: ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  keeper.stderr!.on('data', (d) => (stderr += d));
  const exited = once(keeper, 'exit');
  const lines = createInterface({ input: keeper.stdout! });
  const first = await Promise.race([once(lines, 'line').then(([l]) => l as string), exited.then(() => null)]);
  lines.close();
  const reply = first === null ? null : (JSON.parse(first) as { server?: PrivateServer; error?: string });
  if (!reply?.server) {
    keeper.stdin!.end();
    throw new Error(reply?.error ?? `the private MariaDB keeper exited before its server was ready\n${stderr.trim()}`);
  }
  keeper.unref();
  for (const s of [keeper.stdin, keeper.stdout, keeper.stderr]) (s as unknown as net.Socket).unref();
  return {
    server: reply.server,
    async close() {
      if (keeper.exitCode === null && keeper.signalCode === null) {
        keeper.ref(); // wait for it, now
        keeper.stdin!.end();
        await exited;
      }
    },
  };
}

/**
 * Connecting to MySQL/MariaDB: session settings, and which failures are worth a retry (the URL: ./url.ts).
 * mysql2 types stay in this folder.
 */
import { isIP } from 'node:net';
import mysqlCallbacks from 'mysql2';
import mysql from 'mysql2/promise';
import { EtlError } from '../../errors.ts';
import { BYTE_COLLATIONS, type ByteCollation } from './ddl.ts';
import { ident } from './sql.ts';
import type { MysqlTarget } from './url.ts';

export type Connection = mysql.Connection;

/** Silence before the first TCP keepalive probe (see connect()). */
const KEEPALIVE_DELAY_MS = 10_000;

/**
 * A server that stops answering: `answerMs` is how long a new connection waits for the server's greeting, and
 * how long the watch (watchServer) waits for its question's answer; `silenceMs` is how long a statement waits
 * without a byte from the server before the watch asks. Tests make both small.
 */
export const SERVER_WATCH = { silenceMs: 60_000, answerMs: 10_000 };

/**
 * A session for `write` (load, init: the database is created when missing, and foreign key checks are off
 * because the engine writes only keys it has just resolved) or for `read` (query: nothing is created, the
 * session is read-only, and foreign key checks stay as the server has them).
 */
export async function connect(t: MysqlTarget, access: 'write' | 'read'): Promise<{ conn: Connection; collation: ByteCollation }> {
  let conn: Connection;
  try {
    conn = await mysql.createConnection(connectionOptions(t));
  } catch (err) {
    throw connectionError(err, t);
  }
  // An idle connection killed by the server emits 'error'; the next query reports it. Without a listener the
  // process would crash on the event.
  conn.on('error', () => {});
  watchServer(conn, t);
  // A known sql_mode: backslash escapes as sql.ts writes them, strict so that nothing is silently truncated.
  // autocommit on, whatever the server's default: the ledger's rows outside a batch's transaction (a load
  // started, finished, failed) and etl_settings are written as single statements, and under a server's
  // autocommit = 0 they were rolled back when the connection closed (a completed load shown as interrupted, a
  // failed one without its error, one that failed before its first batch not in the ledger at all).
  // No row limit on a SELECT, whatever the server's sql_select_limit (DEFAULT would be the server's): under a
  // global limit of 100 a load read 100 of the dimension keys and failed on duplicates, and query, loads and
  // rejects printed 100 rows as if that were all.
  // Safe updates off and big selects allowed, whatever the server's defaults: under a global sql_safe_updates
  // the clearing of the staging tables (a DELETE with no key in its WHERE) failed with error 1175, and under a
  // small global max_join_size every SELECT examining more rows failed with error 1104 (the load lock's check,
  // the dimension keys, a history load's stores, query, loads and rejects).
  // No time limit on a statement (MariaDB's max_statement_time, in a comment MySQL skips; MySQL's
  // max_execution_time below), as mariadb-dump does: under a global limit a batch's writes, the fact keys built
  // at the end of a bulk load or a history load's rewrite of the fact table were stopped at it, the load failed
  // and a re-run failed at the same statement; query streams at the pace of its reader (see net_write_timeout).
  try {
    await conn.query(
      "SET SESSION sql_mode = 'STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', autocommit = 1, sql_select_limit = 18446744073709551615, sql_safe_updates = 0, sql_big_selects = 1 /*M!100108 , max_statement_time = 0*/",
    );
    if (access === 'write') await conn.query('SET SESSION foreign_key_checks = 0');
    // query streams its result at the pace of standard output (output.ts), and the server ends a result that
    // its client has not taken for net_write_timeout (60 s by default): 'orders-etl query ... | less', read
    // for over a minute, failed with a lost connection and lost the rest. The reader is waited for as long as
    // it takes (the largest value the server allows, a year), as a load waits for its source.
    else {
      await conn.query('SET SESSION TRANSACTION READ ONLY');
      await conn.query('SET SESSION net_write_timeout = 31536000');
    }
    const collation = await byteCollation(conn, t);
    // MySQL 8 (the only server with this collation and not utf8mb4_nopad_bin): its limit on a SELECT.
    if (collation === 'utf8mb4_0900_bin') await conn.query('SET SESSION max_execution_time = 0');
    try {
      await conn.query(`USE ${ident(t.database)}`);
    } catch (err) {
      if (errnoOf(err) !== 1049) throw err; // ER_BAD_DB_ERROR
      if (access === 'read') throw new EtlError('E_DB', `database ${t.database} does not exist on ${hostPort(t)} (nothing has been loaded into ${t.display})`);
      await conn.query(`CREATE DATABASE IF NOT EXISTS ${ident(t.database)} CHARACTER SET utf8mb4 COLLATE ${collation}`);
      await conn.query(`USE ${ident(t.database)}`);
    }
    return { conn, collation };
  } catch (err) {
    conn.destroy();
    throw err;
  }
}

/** mysql2's options for a connection to `t`. */
function connectionOptions(t: MysqlTarget): mysql.ConnectionOptions {
  return {
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    charset: 'UTF8MB4_BIN',
    dateStrings: true,
    decimalNumbers: false,
    supportBigNumbers: true,
    connectTimeout: SERVER_WATCH.answerMs,
    // TCP keepalive after 10 s of silence (then Node probes every second, 10 times): a server whose machine
    // died, or a network cut, ends the connection in about 20 s with an error the engine retries, where the
    // system's default (two hours before the first probe) left a load waiting for hours. Keepalive sees only
    // a peer whose system no longer answers: a server process that is stuck while its machine answers looks,
    // from the socket, exactly like a long statement. And it does not apply while bytes sent are still
    // unacknowledged (a LOAD DATA into a cut network): the system's retransmissions give up then, after some
    // 15 minutes by Linux's default, which Node offers no way to shorten (TCP_USER_TIMEOUT).
    //
    // No timeout on a silent socket besides: a statement that works legitimately sends nothing for minutes
    // (the fact table's keys built on a large table, a wait for a lock up to --lock-timeout, a large batch),
    // and no bound on silence tells it from a stuck server without killing such work: watchServer asks the
    // server instead, on another connection, whether the statement's thread is still there.
    enableKeepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
    ...(t.ssl ? { ssl: t.ssl } : {}),
  };
}

/**
 * Ends `conn` when its server has stopped answering: a server process that is stuck (stopped, hung) while its
 * machine still answers TCP, which keepalive cannot see. When a statement has waited SERVER_WATCH.silenceMs
 * without a byte from the server, a second connection asks the server whether this connection's thread is still
 * in its process list. An answer of any kind (the thread at work, waiting for a lock, or an error such as too
 * many connections) means the server is alive, and the statement goes on waiting; it is asked again after the
 * next silence. A process list without the thread is an answer too: behind a proxy (ProxySQL, MaxScale)
 * the id the client was given is the proxy's, no thread of the server's, and behind a load balancer the
 * question may reach another server; a thread the server did end closes its socket, and a peer that is gone
 * keepalive sees. No answer within SERVER_WATCH.answerMs ends the connection with a transient
 * E_DB_CONNECTION: the statement fails like one whose connection was cut, and the load retries it (--retries)
 * or fails, exit 1, instead of waiting for ever.
 */
function watchServer(conn: Connection, t: MysqlTarget): void {
  const raw = callbacks(conn);
  const socket = raw.stream;
  if (!socket || typeof socket.on !== 'function') return;
  // The last byte from the server, and the last sign of life (a byte, or the server's answer when asked).
  let heard = Date.now();
  let alive = heard;
  let asking = false;
  // A question still open when the connection closes (the statement ended, the load with it) is dropped, its
  // connection with it: it would keep the process alive up to SERVER_WATCH.answerMs after its work is done.
  const closed = new AbortController();
  socket.on('data', () => (heard = alive = Date.now()));
  const timer = setInterval(() => {
    if (gone(raw)) {
      clearInterval(timer);
      return;
    }
    // Only a statement waits for the server: an idle connection is silent by right.
    if (asking || !raw._command || Date.now() - alive < SERVER_WATCH.silenceMs) return;
    asking = true;
    const silentMs = Date.now() - heard;
    void askServer(t, raw.threadId, closed.signal).then((why) => {
      asking = false;
      if (why === null) alive = Date.now();
      if (why === null || gone(raw)) return;
      // Heard from meanwhile: the statement's answer came while the server was asked.
      if (Date.now() - heard < silentMs) return;
      socket.destroy(new EtlError('E_DB_CONNECTION', `${t.display} stopped answering: a statement waited ${Math.round(silentMs / 1000)} s without a byte from the server, and ${why}`, {}, { transient: true }));
    });
  }, Math.max(50, Math.min(5_000, SERVER_WATCH.silenceMs / 4)));
  timer.unref();
  socket.once('close', () => {
    clearInterval(timer);
    closed.abort();
  });
}

/**
 * Asks the server, on a connection of its own, whether thread `threadId` is still in its process list: null when
 * it answers, whatever the answer (an error too: it is alive), or when `cancel` ends the question first; else
 * why the connection is to be given up. The process list, not `SELECT 1`: the answer has to pass the server's
 * list of threads, where a stuck server is likely to be stuck.
 */
function askServer(t: MysqlTarget, threadId: number | null, cancel: AbortSignal): Promise<string | null> {
  const { answerMs } = SERVER_WATCH;
  const noAnswer = `a second connection got no answer within ${Math.round(answerMs / 1000)} s`;
  return new Promise((resolve) => {
    if (cancel.aborted) return resolve(null);
    // mysql2's callback API: its connection can be ended at any moment, while it connects too.
    const probe = mysqlCallbacks.createConnection(connectionOptions(t));
    probe.on('error', () => {});
    let done = false;
    const finish = (why: string | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cancel.removeEventListener('abort', dropped);
      // mysql2's destroy() only half-closes the socket (and clears its connect timer), which a stuck server
      // never answers: the socket would stay open, and the process with it.
      probe.destroy();
      (probe as unknown as { stream?: { destroy(): void } }).stream?.destroy();
      resolve(why);
    };
    const dropped = () => finish(null);
    const timer = setTimeout(() => finish(noAnswer), answerMs);
    cancel.addEventListener('abort', dropped);
    probe.query('SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = ?', [threadId], (err) => {
      // Connecting timed out: nothing answered (mysql2's connectTimeout, the same bound). Any other error is an
      // answer, or says nothing of this server's state (refused, too many connections).
      const code = (err as { code?: string } | null)?.code;
      finish(code === 'ETIMEDOUT' || code === 'PROTOCOL_SEQUENCE_TIMEOUT' ? noAnswer : null);
    });
  });
}

/** What this file uses of mysql2's callback connection (its promise wrapper's `.connection`). */
interface CallbackConnection {
  _closing?: boolean;
  _fatalError?: unknown;
  /** The command being executed, null when idle. */
  _command?: unknown;
  threadId: number | null;
  stream?: { destroyed: boolean; on(event: 'data', listener: () => void): void; once(event: 'close', listener: () => void): void; destroy(err?: Error): void };
  on(event: 'error' | 'end', listener: (err?: Error) => void): void;
  off(event: 'error' | 'end', listener: (err?: Error) => void): void;
}

function callbacks(conn: Connection): CallbackConnection {
  return (conn as unknown as { connection: CallbackConnection }).connection;
}

/** The connection is closing, or closed, or died: nothing more will pass on it. */
function gone(raw: CallbackConnection): boolean {
  return Boolean(raw._closing || raw._fatalError || raw.stream?.destroyed);
}

/**
 * Watches `conn` while a query without a callback (a streaming one) runs on it, until the returned function is
 * called. mysql2 tells such a query nothing when the connection dies under it (closed by the server, a KILL, or
 * by the network): only the connection hears of it, on its 'error' or 'end' event (whose errors connect()
 * swallows), and the query then neither ends nor fails. `lost` hears of it instead, as a transient
 * E_DB_CONNECTION. On a connection already dead mysql2 would not even start the query, and tell only the
 * connection: that throws at once.
 */
export function watchStreaming(conn: Connection, location: string, lost: (err: EtlError) => void): () => void {
  const raw = callbacks(conn);
  if (gone(raw)) {
    throw new EtlError('E_DB_CONNECTION', `the connection to ${location} is gone`, {}, { transient: true });
  }
  // Either may come first, and both may come: the first one says it.
  let told = false;
  const tell = (err?: Error) => {
    if (told) return;
    told = true;
    lost(connectionClosed(location, err));
  };
  raw.on('error', tell);
  raw.on('end', tell);
  return () => {
    raw.off('error', tell);
    raw.off('end', tell);
  };
}

/** A streaming query's connection closed under it (transient: a re-run may find the server again). */
export function connectionClosed(location: string, err?: Error): EtlError {
  const why = err?.message ? `: ${err.message}` : '';
  return new EtlError('E_DB_CONNECTION', `the connection to ${location} closed${why}`, {}, { ...(err ? { cause: err } : {}), transient: true });
}

/** The server's byte-exact NO PAD collation (ddl.ts says why it must be NO PAD). */
async function byteCollation(conn: Connection, t: MysqlTarget): Promise<ByteCollation> {
  const [rows] = await conn.query('SELECT COLLATION_NAME AS c FROM information_schema.COLLATIONS WHERE COLLATION_NAME IN (?)', [BYTE_COLLATIONS]);
  const have = new Set((rows as { c: string }[]).map((r) => r.c));
  const found = BYTE_COLLATIONS.find((c) => have.has(c));
  if (!found) {
    throw new EtlError('E_DB', `${t.display}: the server has none of ${BYTE_COLLATIONS.join(', ')}, the byte-exact collations the warehouse needs (MariaDB 10.2 or later, MySQL 8.0 or later)`);
  }
  return found;
}

/** host:port for messages; an IPv6 address in brackets, as in a URL (::1:3306 reads as another address). */
function hostPort(t: MysqlTarget): string {
  return isIP(t.host) === 6 ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`;
}

function connectionError(err: unknown, t: MysqlTarget): EtlError {
  const e = err as { code?: string; errno?: number; message?: string };
  const transient = isTransient(err);
  // mysql2's messages name the user and host but never the password; keep only that, to be sure.
  let msg = (e.message ?? String(err)).split(t.password || '\u0000').join('***');
  if (e.code === 'ECONNREFUSED') msg = `nothing listens on ${hostPort(t)} (is the MySQL/MariaDB server running?)`;
  return new EtlError(transient ? 'E_DB_CONNECTION' : 'E_DB', `cannot connect to ${t.display}: ${msg}`, {}, { cause: err, transient });
}

const TRANSIENT_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_QUERY_INTERRUPTED',
  'ER_CON_COUNT_ERROR',
]);
// 1205 lock wait timeout, 1213 deadlock, 1053 shutdown, 1317 interrupted, 1927 connection killed (MariaDB),
// 2006/2013 server gone / lost during query, 1040 too many connections.
const TRANSIENT_ERRNOS = new Set([1205, 1213, 1053, 1317, 1927, 2006, 2013, 1040]);

// Refusals that another attempt will not change: wrong password (1045), no access to the database (1044),
// auth plugin refusals (1698, 1251).
const REFUSALS = new Set([1045, 1044, 1698, 1251]);

// TLS refusals: the server has no TLS though TLS was asked for, or its certificate does not verify (by its
// chain, its dates or its name); another attempt would meet the same server and the same certificate. Node names
// them by these codes (OpenSSL's verification errors, and its own for a name the certificate does not carry).
const TLS_REFUSAL_CODES = new Set([
  'HANDSHAKE_NO_SSL_SUPPORT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
  'HOSTNAME_MISMATCH',
]);

/**
 * A TLS refusal (TLS_REFUSAL_CODES). mysql2 replaces the code of any failure of the TLS handshake with
 * HANDSHAKE_SSL_ERROR, a connection dropped during the handshake included, which another attempt may well get
 * past: there the message tells them apart. Every verification error's message (OpenSSL's words: "self-signed
 * certificate in certificate chain", "unable to verify the first certificate", "certificate has expired"; Node's:
 * "does not match certificate's altnames") speaks of a certificate, and a dropped connection's never does.
 */
function isTlsRefusal(e: { code?: string; message?: string }): boolean {
  if (e.code && TLS_REFUSAL_CODES.has(e.code)) return true;
  return e.code === 'HANDSHAKE_SSL_ERROR' && /certificate/i.test(e.message ?? '');
}

/** The server's error number of a failure (mysql2's `errno`), or undefined. */
export function errnoOf(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno;
  return typeof errno === 'number' ? errno : undefined;
}

export function isTransient(err: unknown): boolean {
  const e = err as { code?: string; errno?: number; fatal?: boolean; message?: string };
  // mysql2 marks errors that end the connection as fatal, whatever their code: the connection is gone,
  // and a fresh one may well succeed (a KILL mid-LOAD DATA surfaces with codes of its own). Refusals, which
  // mysql2 marks fatal too, are not worth another attempt.
  if (typeof e?.errno === 'number' && REFUSALS.has(e.errno)) return false;
  if (e && isTlsRefusal(e)) return false;
  if (e?.fatal) return true;
  if (e?.code && TRANSIENT_CODES.has(e.code)) return true;
  if (typeof e?.errno === 'number' && TRANSIENT_ERRNOS.has(e.errno)) return true;
  return false;
}

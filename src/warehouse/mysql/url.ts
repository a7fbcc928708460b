/**
 * A MySQL/MariaDB warehouse URL: host, credentials, database and TLS. Apart from ./connection.ts, which imports
 * mysql2: --db is checked, and a warehouse named in messages, before the client library is loaded.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { EtlError } from '../../errors.ts';
import { isValidIdentifier } from './sql.ts';

export interface MysqlTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  ssl: { ca?: string; rejectUnauthorized: boolean; verifyIdentity: boolean } | null;
  /** host:port/database, no credentials: for messages. */
  display: string;
}

export interface TlsOptions {
  /** PEM file with the CA that signed the server's certificate. */
  caFile?: string;
}

/**
 * mysql://user:pass@host:3306/db?ssl-mode=VERIFY_IDENTITY&ssl-ca=/path/ca.pem
 * ssl-mode: DISABLED (default unless a CA is given, and refused with one), VERIFY_CA (the certificate chain is verified, not the host
 * name), VERIFY_IDENTITY (the chain and the host name, when the URL gives a name: see below); REQUIRED is treated
 * as VERIFY_IDENTITY (see README). A certificate that does not verify is refused, never a fallback to plain text.
 */
export function parseMysqlUrl(url: string, tls: TlsOptions = {}): MysqlTarget {
  const notUrl = () => new EtlError('E_USAGE', '--db: not a URL (expected mysql://user:password@host:3306/database)', {}, { redacted: true });
  // Without the // (mysql:user:secret@host/db, mysql:/user:secret@host/db) the URL parser takes the credentials
  // for a path, which would then be shown as a database name: refused whole, nothing of it shown. (So are the
  // forms mysql:db and mysql:/db, which meant root on 127.0.0.1:3306: undocumented, and ambiguous.)
  if (!/^(mysql|mariadb):\/\//i.test(url)) throw notUrl();
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw notUrl();
  }
  // A bad %-escape in the user, the password or the database (secret%zz): a usage error that shows none of them.
  const decode = (part: string, what: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new EtlError('E_USAGE', `--db: the ${what} in the URL has a malformed %-escape`, {}, { redacted: true });
    }
  };
  const database = decode(u.pathname.replace(/^\//, ''), 'database name');
  if (database === '') throw new EtlError('E_USAGE', '--db: the URL names no database (expected mysql://user:password@host:3306/database)', {}, { redacted: true });
  if (!isValidIdentifier(database)) {
    // Shown only when it cannot be a misplaced user:password@.
    const shown = /[:@]/.test(database) ? '' : ` ${JSON.stringify(database)}`;
    throw new EtlError('E_USAGE', `--db: database name${shown} is not a plain identifier (letters, digits, _ and $, at most 64)`, {}, { redacted: true });
  }
  for (const key of u.searchParams.keys()) {
    if (!['ssl-mode', 'sslmode', 'ssl-ca', 'ssl'].includes(key)) {
      throw new EtlError('E_USAGE', `--db: unknown URL parameter ${JSON.stringify(key)} (allowed: ssl-mode, ssl-ca)`);
    }
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const caFile = tls.caFile ?? u.searchParams.get('ssl-ca') ?? undefined;
  const given = u.searchParams.get('ssl-mode') ?? u.searchParams.get('sslmode');
  const mode = (given ?? (u.searchParams.get('ssl') === 'true' ? 'VERIFY_IDENTITY' : caFile ? 'VERIFY_IDENTITY' : 'DISABLED')).toUpperCase();
  // A CA asks for TLS (README: "TLS is then on"), DISABLED for plain text: neither may silently win, since one
  // of them is a mistake, and taking DISABLED would be the fallback to plain text that TLS never makes.
  if (mode === 'DISABLED' && caFile) {
    const ca = tls.caFile !== undefined ? '--db-ssl-ca' : 'ssl-ca in the URL';
    throw new EtlError('E_USAGE', `--db: ${ca} asks for TLS and ssl-mode=DISABLED in the URL turns it off; give one or the other`);
  }
  let ssl: MysqlTarget['ssl'] = null;
  if (mode !== 'DISABLED') {
    if (!['REQUIRED', 'VERIFY_CA', 'VERIFY_IDENTITY', 'PREFERRED'].includes(mode)) {
      throw new EtlError('E_USAGE', `--db: ssl-mode ${JSON.stringify(given)} is not one of DISABLED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY`);
    }
    let ca: string | undefined;
    if (caFile) {
      try {
        ca = readFileSync(caFile, 'utf8');
      } catch (err) {
        throw new EtlError('E_USAGE', `--db-ssl-ca: cannot read ${caFile}: ${(err as Error).message}`);
      }
    }
    // rejectUnauthorized verifies the chain; mysql2 checks the host name only when asked (verifyIdentity, off
    // by default). For an IP address its check is wrong: it hands Node no host for an IP (no SNI), and Node then
    // checks the name "localhost", refusing a certificate for the IP and accepting any certificate for
    // localhost. So a server given by IP address is verified by its chain only (README).
    ssl = { ...(ca ? { ca } : {}), rejectUnauthorized: true, verifyIdentity: mode !== 'VERIFY_CA' && !isIP(host) };
  }
  const port = u.port ? Number(u.port) : 3306;
  return {
    host,
    port,
    user: decode(u.username, 'user name') || 'root',
    password: decode(u.password, 'password'),
    database,
    ssl,
    display: `mysql://${u.host || host}/${database}`,
  };
}

/**
 * S3 and S3-compatible stores (MinIO, R2, Ceph, ...): `s3://bucket/key` and `s3://bucket/prefix/`.
 *
 * The object body streams straight into the parser, never buffered whole. When the body errors or stalls
 * mid-object, it is resumed from the last byte received with a ranged GET pinned to the same object version
 * (IfMatch on the ETag, plus the version id when the bucket is versioned); the byte count must add up to the
 * object's length. Resumption happens below the decompressor, on the stored bytes, so a gzip object resumes
 * too: the gunzip state carries over and nothing is read twice. AWS SDK types stay in this file.
 */
import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type GetObjectCommandOutput,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { loadConfig, NODE_REGION_CONFIG_FILE_OPTIONS, NODE_REGION_CONFIG_OPTIONS } from '@smithy/core/config';
import { EtlError } from '../errors.ts';
import type { InputFormat } from '../model.ts';
import { formatFromName, withoutGzipSuffix, type Source, type SourceInfo } from './types.ts';

export interface S3Options {
  region?: string | undefined;
  endpoint?: string | undefined;
  /** Seconds without a byte before the body is abandoned and resumed. */
  stallTimeout: number;
  /** Retries of a body after a failed attempt, counted anew after each byte of progress; an attempt is one GET. */
  retries: number;
  /** First backoff in ms, doubling, capped at 5 s. */
  backoffMs?: number;
  /** Keys per list call (S3's default, 1000, when unset). */
  pageSize?: number;
}

export function parseS3Uri(uri: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/is.exec(uri);
  if (!m || !/^[a-z0-9][a-z0-9.\-_]{1,254}$/i.test(m[1]!)) {
    throw new EtlError('E_USAGE', `<source>: ${JSON.stringify(uri)} is not s3://bucket/key or s3://bucket/prefix/`);
  }
  return { bucket: m[1]!, key: m[2]! };
}

/**
 * Two clients of one configuration, told apart by who retries their requests. The SDK's retries are set per
 * client, not per command.
 */
export interface S3Clients {
  /** ListObjectsV2 and HEAD: the load does not retry them, the SDK does (4 attempts). */
  lookup: S3Client;
  /**
   * GetObject: one request per call. ResumableBody retries a body itself (--retries, resuming where it
   * stopped); SDK retries beneath it multiplied its count (--retries 2 against a server answering HTTP 500 sent
   * 12 requests, and --retries 0 four) and made "after n failed attempt(s)" untrue.
   */
  body: S3Client;
}

/** Attempts of a HEAD or list request: the SDK's retries, a stalled attempt included. */
const LOOKUP_ATTEMPTS = 4;
/**
 * A connection not accepted within this (or --s3-stall-timeout, when shorter) fails the attempt: a server that
 * is there accepts one in milliseconds (the SDK's own "standard" defaults mode gives it 3.1 s), and a
 * firewall that drops packets would otherwise take --s3-stall-timeout four times.
 */
const CONNECT_TIMEOUT_S = 10;

/**
 * The bound on a HEAD or list in all, whatever happens beneath it (credentials fetched, a server that trickles
 * bytes): every attempt connecting and then stalling to its end, and 5 s each for the SDK, which arms its
 * socket timer up to 3 s into an attempt and backs off between attempts (7 s in all when throttled).
 */
function lookupDeadline(opts: S3Options): number {
  return LOOKUP_ATTEMPTS * (Math.min(opts.stallTimeout, CONNECT_TIMEOUT_S) + opts.stallTimeout + 5);
}
const LOOKUP_DEADLINE = `the bound on ${LOOKUP_ATTEMPTS} attempts of --s3-stall-timeout`;

/** A HEAD or list request (`call`, given the signal that aborts it), within lookupDeadline. */
function lookup<T>(opts: S3Options, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  return withDeadline(lookupDeadline(opts), call, undefined, LOOKUP_DEADLINE);
}

export function makeS3Clients(opts: S3Options): S3Clients {
  // The SDK (the locked @aws-sdk/core 3.981) prints a nine-line NodeVersionSupportWarning on stderr when its first client is made on
  // a Node below 22, telling the user to upgrade: this package supports Node 20 and pins that SDK, so on Node 20
  // the warning is noise before every S3 load's own messages. The SDK's documented switch turns it off; a value
  // the user set is kept.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const config: S3ClientConfig = {
    ...(opts.region ? { region: opts.region } : opts.endpoint ? { region: endpointRegion() } : {}),
    ...(opts.endpoint ? { endpoint: opts.endpoint, forcePathStyle: true } : {}),
    // Since 3.729 the SDK adds CRC checksums to requests and validates them on responses by default; many
    // S3-compatible servers reject or do not send them. Only where an operation requires it.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A bucket in another region than the one configured answers 301 with its region in a header: the SDK
    // signs the request again for that region (off by default, when a HEAD's 301 was only "UnknownError").
    followRegionRedirects: true,
  };
  // Each attempt of a HEAD or list gives up when the server sends no byte for --s3-stall-timeout (or does not
  // accept the connection: CONNECT_TIMEOUT_S), and the SDK makes the next: a connection that went silent (a keep-alive
  // socket a NAT dropped) is retried like an HTTP 500. Only here: the body client's socket is left idle on
  // purpose while the load waits for the database (backpressure), and ResumableBody keeps its own clock.
  const requestHandler = { connectionTimeout: Math.min(opts.stallTimeout, CONNECT_TIMEOUT_S) * 1000, socketTimeout: opts.stallTimeout * 1000 };
  const lookup = new S3Client({ ...config, maxAttempts: LOOKUP_ATTEMPTS, requestHandler });
  // The lookup client's credentials provider (memoized): a role, SSO or the instance metadata service is asked
  // for credentials once, not once per client.
  const body = new S3Client({ ...config, credentials: lookup.config.credentials, maxAttempts: 1 });
  return { lookup, body };
}

/**
 * The region of requests to an --s3-endpoint when --s3-region is not given: AWS_REGION, else the profile's
 * (AWS_PROFILE, the shared config and credentials files), read by the SDK's own selectors (@smithy/core, which
 * @aws-sdk/client-s3 is built on); us-east-1 only when neither names one (an empty AWS_REGION names none). A
 * store that is not AWS (MinIO, Ceph, R2) refuses a request signed for a region other than its own, so the
 * region the user configured must win; us-east-1 is only what such stores default to. The instance metadata
 * service, the SDK's last resort, is not asked: the region an EC2 instance runs in says nothing of another
 * store's, and off EC2 the probe would hold every load for its timeout (a second).
 */
function endpointRegion(): () => Promise<string> {
  // An empty AWS_REGION names no region: the profile's is read then (the SDK's selector would stop at '').
  const fromEnv = NODE_REGION_CONFIG_OPTIONS.environmentVariableSelector;
  const configured = loadConfig(
    { ...NODE_REGION_CONFIG_OPTIONS, environmentVariableSelector: (env, options) => fromEnv(env, options) || undefined, default: '' },
    NODE_REGION_CONFIG_FILE_OPTIONS,
  );
  return async () => (await configured()) || 'us-east-1';
}

/** Turn one s3:// argument into sources: the object itself, or every loadable object under the prefix. */
export async function resolveS3(uri: string, clients: S3Clients, opts: S3Options, format: InputFormat | undefined, note: (msg: string) => void): Promise<Source[]> {
  const { bucket, key } = parseS3Uri(uri);
  if (key !== '' && !key.endsWith('/')) return [new S3Source(clients, bucket, key, format ?? formatFromName(key) ?? 'auto', opts)];
  const out: Source[] = [];
  let token: string | undefined;
  const keys: { key: string; size: number; etag: string }[] = [];
  do {
    let page;
    try {
      const cmd = new ListObjectsV2Command({ Bucket: bucket, Prefix: key, ContinuationToken: token, MaxKeys: opts.pageSize });
      page = await lookup(opts, (abortSignal) => clients.lookup.send(cmd, { abortSignal }));
    } catch (err) {
      throw s3Error(err, bucket, key, 'list');
    }
    for (const o of page.Contents ?? []) keys.push({ key: o.Key!, size: Number(o.Size ?? 0), etag: o.ETag ?? '' });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  // Key order, by bytes (S3 lists in UTF-8 binary order already; sorting keeps it so for any server).
  keys.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
  for (const k of keys) {
    if (k.key.endsWith('/')) continue; // a "folder" marker
    const named = formatFromName(k.key);
    if (named === null && !(format !== undefined && plainDataName(k.key))) {
      const also = format === undefined ? '' : ', nor a name without an extension that --format can read (part-00000)';
      note(`skipping s3://${bucket}/${k.key}: not .json, .ndjson, .jsonl (or .gz of one)${also}`);
      continue;
    }
    out.push(new S3Source(clients, bucket, k.key, format ?? named ?? 'auto', opts));
  }
  if (out.length === 0) note(`nothing to load under s3://${bucket}/${key}`);
  return out;
}

/**
 * An object under a prefix that --format may read though its name says no format: a name without an
 * extension, as Hadoop and Redshift UNLOAD write them (`part-00000`, `0000_part_00.gz`), and not a marker
 * (`_SUCCESS`, `.keep`) or a manifest (UNLOAD's `<prefix>manifest`). A name with another extension
 * (`manifest.txt`, `x.csv`) is never an export.
 */
function plainDataName(key: string): boolean {
  const name = withoutGzipSuffix(key.slice(key.lastIndexOf('/') + 1));
  return name !== '' && !name.includes('.') && !name.startsWith('_') && !/manifest$/i.test(name);
}

export class S3Source implements Source {
  readonly uri: string;
  readonly format: InputFormat;
  private readonly clients: S3Clients;
  private readonly bucket: string;
  private readonly key: string;
  private readonly opts: S3Options;
  private head: { size: number; etag: string; versionId: string | undefined } | null = null;

  constructor(clients: S3Clients, bucket: string, key: string, format: InputFormat, opts: S3Options) {
    this.clients = clients;
    this.bucket = bucket;
    this.key = key;
    this.format = format;
    this.opts = opts;
    this.uri = `s3://${bucket}/${key}`;
  }

  async info(): Promise<SourceInfo> {
    let res;
    try {
      const cmd = new HeadObjectCommand({ Bucket: this.bucket, Key: this.key });
      res = await lookup(this.opts, (abortSignal) => this.clients.lookup.send(cmd, { abortSignal }));
    } catch (err) {
      throw s3Error(err, this.bucket, this.key, 'read', await this.prefixBeyond(err));
    }
    this.head = { size: Number(res.ContentLength ?? 0), etag: res.ETag ?? '', versionId: res.VersionId };
    return { size: this.head.size, fingerprint: `etag=${this.head.etag}${res.VersionId ? `;version=${res.VersionId}` : ''};size=${this.head.size}` };
  }

  /**
   * A name given without its slash, as `aws s3 ls` takes a prefix (`s3://bucket/exports/2024-06-01`), is a key,
   * which the HEAD did not find: when objects lie under the name and a slash, that prefix, for the message.
   */
  private async prefixBeyond(err: unknown): Promise<string | null> {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode !== 404) return null;
    const prefix = `${this.key}/`;
    try {
      const cmd = new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, MaxKeys: 1 });
      const page = await lookup(this.opts, (abortSignal) => this.clients.lookup.send(cmd, { abortSignal }));
      return (page.Contents?.length ?? 0) > 0 ? `s3://${this.bucket}/${prefix}` : null;
    } catch {
      // Only a hint (the bucket may be missing too, or listing not allowed): the HEAD's answer is the error.
      return null;
    }
  }

  open(): Readable {
    if (!this.head) throw new EtlError('E_INTERNAL', `${this.uri}: open() before info()`);
    return new ResumableBody(this.clients.body, this.bucket, this.key, this.head, this.opts);
  }
}

/**
 * The object's bytes as one stream, whatever happens to the connections underneath. Backpressure: the
 * current body is paused while our buffer is full (and the stall clock with it).
 */
class ResumableBody extends Readable {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly key: string;
  private readonly version: { size: number; etag: string; versionId: string | undefined };
  private readonly opts: S3Options;
  private received = 0;
  private body: Readable | null = null;
  private requesting = false;
  private failures = 0;
  /** A request refused for this machine's clock has been made again once already (see request). */
  private skewCorrected = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();

  constructor(client: S3Client, bucket: string, key: string, version: ResumableBody['version'], opts: S3Options) {
    super({ highWaterMark: 256 * 1024 });
    this.client = client;
    this.bucket = bucket;
    this.key = key;
    this.version = version;
    this.opts = opts;
  }

  override _read(): void {
    if (this.body) {
      this.armStall();
      this.body.resume();
    } else if (!this.requesting) {
      void this.request();
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearStall();
    this.abort.abort();
    this.body?.destroy();
    cb(err);
  }

  private async request(): Promise<void> {
    this.requesting = true;
    if (this.received === this.version.size) {
      this.push(null);
      return;
    }
    let res: GetObjectCommandOutput;
    try {
      const cmd = new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.key,
          // Pinned to the version whose size and ETag info() saw: a changed object fails with 412.
          IfMatch: this.version.etag || undefined,
          VersionId: this.version.versionId,
          ...(this.received > 0 ? { Range: `bytes=${this.received}-` } : {}),
      });
      // A server that stalls before it answers is a stall too: the same clock covers waiting for the response.
      res = await withDeadline(this.opts.stallTimeout, (abortSignal) => this.client.send(cmd, { abortSignal }), this.abort.signal);
    } catch (err) {
      if (this.destroyed) return;
      const meta = (err as { $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean } }).$metadata;
      const status = meta?.httpStatusCode;
      // 412: If-Match failed. 416: the object is now shorter than what we already read (a server that
      // ignores If-Match lets the new version through; its size gives it away).
      if (status === 412 || (status === 416 && this.received > 0)) {
        this.destroy(new EtlError('E_SOURCE_CHANGED', `s3://${this.bucket}/${this.key} changed while it was being read (ETag ${this.version.etag} no longer matches) at byte ${this.received}`, { source: `s3://${this.bucket}/${this.key}`, byteOffset: this.received }, { cause: err }));
        return;
      }
      // A request refused for the skew of this machine's clock (403 RequestTimeTooSkewed) is made again at once,
      // once, and not counted against --retries: the SDK has just corrected this client's clock offset from the
      // server's time, and the next one is signed with it (the SDK's own retries, which this client does not
      // make, did the same). The HEAD before it corrected the other client's offset only, so with a clock far
      // off the first GET is always refused so.
      if (meta?.clockSkewCorrected === true && !this.skewCorrected) {
        this.skewCorrected = true;
        void this.request();
        return;
      }
      if (status !== undefined && status < 500 && status !== 408 && status !== 429 && meta?.clockSkewCorrected !== true) {
        this.destroy(s3Error(err, this.bucket, this.key, 'read'));
        return;
      }
      this.retry(err);
      return;
    }
    if (this.received > 0) {
      // A resumed read must start exactly where the last one stopped. A server or proxy that ignores Range
      // answers 200 with the whole object: its bytes would be records read again, committed after later ones.
      const status = res.$metadata.httpStatusCode;
      const expected = `bytes ${this.received}-`;
      if (status !== 206 || !res.ContentRange?.startsWith(expected)) {
        (res.Body as Readable | undefined)?.destroy();
        this.destroy(
          new EtlError(
            'E_S3',
            `s3://${this.bucket}/${this.key}: resuming at byte ${this.received} asked for Range bytes=${this.received}- but the server answered HTTP ${status ?? '?'} with Content-Range ${JSON.stringify(res.ContentRange ?? null)}; a server or proxy that ignores Range cannot be resumed from (load the object again through one that honours Range)`,
            { source: `s3://${this.bucket}/${this.key}`, byteOffset: this.received },
          ),
        );
        return;
      }
    }
    if (res.ETag && this.version.etag && res.ETag !== this.version.etag) {
      (res.Body as Readable).destroy();
      this.destroy(new EtlError('E_SOURCE_CHANGED', `s3://${this.bucket}/${this.key} changed while it was being read (ETag ${this.version.etag} became ${res.ETag}) at byte ${this.received}`, { source: `s3://${this.bucket}/${this.key}`, byteOffset: this.received }));
      return;
    }
    const body = res.Body as Readable;
    this.body = body;
    this.requesting = false;
    body.on('data', (chunk: Buffer) => {
      this.received += chunk.length;
      this.failures = 0;
      this.armStall();
      if (this.received > this.version.size) {
        this.fail(new Error(`received ${this.received} bytes, more than the object's ${this.version.size}`));
        return;
      }
      if (!this.push(chunk)) {
        body.pause();
        this.clearStall();
      }
    });
    body.on('end', () => {
      this.clearStall();
      this.body = null;
      if (this.received === this.version.size) this.push(null);
      else this.retry(new Error(`the body ended at byte ${this.received} of ${this.version.size}`));
    });
    body.on('error', (err) => {
      this.clearStall();
      this.retry(err);
    });
    this.armStall();
  }

  private retry(err: unknown): void {
    if (this.destroyed) return;
    const old = this.body;
    this.body = null;
    this.requesting = true;
    old?.removeAllListeners('data');
    old?.removeAllListeners('end');
    old?.on('error', () => {});
    old?.destroy();
    if (this.failures++ >= this.opts.retries) {
      this.fail(err);
      return;
    }
    const wait = Math.min(5000, (this.opts.backoffMs ?? 200) * 2 ** (this.failures - 1));
    // Not unref'd: while a body is stalled, the retry (and the stall clock) are what the load waits on; an
    // unref'd timer let the process end as if the input had ended.
    setTimeout(() => {
      if (!this.destroyed) void this.request();
    }, wait);
  }

  private fail(err: unknown): void {
    this.destroy(
      new EtlError(
        'E_S3',
        `giving up on s3://${this.bucket}/${this.key} at byte ${this.received} of ${this.version.size} after ${this.failures} failed attempt(s): ${(err as Error)?.message ?? String(err)}`,
        { source: `s3://${this.bucket}/${this.key}`, byteOffset: this.received },
        { cause: err, transient: true },
      ),
    );
  }

  private armStall(): void {
    this.clearStall();
    const body = this.body;
    this.stallTimer = setTimeout(() => {
      if (this.body === body && body) {
        this.retry(new Error(`no bytes for ${this.opts.stallTimeout}s (--s3-stall-timeout)`));
      }
    }, this.opts.stallTimeout * 1000);
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = null;
  }
}

/** Fail fast and say what is wrong: bucket, key, permission, credentials. Never echoes credentials. */
export function s3Error(err: unknown, bucket: string, key: string, what: 'read' | 'list', prefixBeyond: string | null = null): EtlError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const where = `s3://${bucket}/${key}`;
  const beyond = prefixBeyond ? `; there are objects under ${prefixBeyond}: to load every one, give the prefix with its slash` : '';
  let msg: string;
  if (e.name === 'NoSuchBucket') msg = `bucket ${bucket} does not exist`;
  else if (e.name === 'NoSuchKey' || (status === 404 && what === 'read')) msg = `no such key (or bucket) ${where}${beyond}`;
  else if (status === 404) msg = `bucket ${bucket} does not exist`;
  else if (e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') msg = `the AWS credentials were refused (${e.name}): check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the role`;
  // kms:Decrypt only where an object is read: listing a bucket needs no key.
  else if (status === 403) msg = `access denied to ${where}${serverSaid(e)}: the credentials lack ${what === 'list' ? 's3:ListBucket permission' : 's3:GetObject permission (or, for an object encrypted with a KMS key, kms:Decrypt)'}, or they were refused`;
  else if (e.name === 'TimeoutError') msg = `no answer: ${LOOKUP_ATTEMPTS} attempts each waited for a connection (${CONNECT_TIMEOUT_S}s at most) or a byte (--s3-stall-timeout) in vain; check --s3-endpoint (or AWS_ENDPOINT_URL) and the network`;
  else if (status === 301 || e.name === 'PermanentRedirect') msg = `the bucket is in another region than the one configured (HTTP 301) and the answer did not say which: pass the bucket's region with --s3-region`;
  else if (/Region is missing/i.test(e.message ?? '')) msg = 'no AWS region configured: pass --s3-region or set AWS_REGION';
  else msg = `${e.name ?? 'error'}: ${e.message ?? String(err)}`;
  return new EtlError('E_S3', `cannot ${what} ${where}: ${msg}`, { source: where }, { cause: err });
}

/**
 * What the server said about a refusal, where its answer had a body (a GET's XML error: code and message, such
 * as a KMS key the caller may not use); nothing for a HEAD's bare status, which the SDK names only by its code.
 * Control characters are dropped and the text is cut at 300 characters: it comes from the network.
 */
function serverSaid(e: { name?: string; message?: string }): string {
  const text = (e.message ?? '').replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  if (text === '' || text === 'UnknownError' || /^\d+$/.test(text)) return '';
  const cut = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return ` (the server said ${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${cut})`;
}

/**
 * Run an S3 call that must answer within `seconds` (the SDK sets no timeout of its own by default, and a
 * server that never answers would hold the load forever). `outer` aborts it too (the body being destroyed).
 */
async function withDeadline<T>(seconds: number, call: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal, why = '--s3-stall-timeout'): Promise<T> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new Error(`no response for ${seconds}s (${why})`)), seconds * 1000);
  const forward = () => ctl.abort(outer!.reason);
  outer?.addEventListener('abort', forward, { once: true });
  try {
    return await call(ctl.signal);
  } catch (err) {
    // The SDK reports an abort as its own AbortError; say why it was aborted.
    if (ctl.signal.aborted && ctl.signal.reason instanceof Error) throw ctl.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', forward);
  }
}

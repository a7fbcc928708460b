/**
 * S3 sources against a real S3 HTTP server (s3rver) on loopback, through a fault-injecting proxy of our own:
 * prefixes mixing formats, paging, missing keys and buckets, refused credentials, cut and stalled bodies; the
 * region requests to an endpoint are signed for, and how many requests a failing object gets.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { generate } from '../bench/generate.ts';
import { DEFAULTS } from '../src/options.ts';
import { runLoad } from '../src/pipeline/load.ts';
import { resolveSources } from '../src/sources/resolve.ts';
import { makeS3Clients, type S3Options } from '../src/sources/s3.ts';
import { openWarehouse } from '../src/warehouse/index.ts';
import { applyOrders, emptyModel, modelSnapshot, type KeyedSnapshot } from './helpers/model.ts';
import { runCli, tempDir } from './helpers/run.ts';
import { DIALECTS, type TestWarehouse, type WarehouseSnapshot } from './helpers/warehouses.ts';
import { BUCKET, S3_ENV, startFaultProxy, startS3, type TestS3 } from './helpers/s3.ts';

Object.assign(process.env, S3_ENV, { AWS_EC2_METADATA_DISABLED: 'true' });
const freshDatabase = DIALECTS.find((d) => d.name === 'mysql')!.fresh;

describe('S3 sources', () => {
  let s3: TestS3;
  let db: TestWarehouse;
  const files = tempDir();
  let pretty: string;
  let compact: string;
  let ndjson: string;

  before(async () => {
    s3 = await startS3();
    pretty = join(files.dir, 'a.json');
    compact = join(files.dir, 'b.json');
    ndjson = join(files.dir, 'c.ndjson');
    await generate(pretty, { orders: 2500, customers: 300, products: 120, ids: 'string', style: 'pretty', seed: 1 });
    await generate(compact, { orders: 2000, customers: 300, products: 150, ids: 'string', style: 'compact', version: 1, seed: 2, firstOrderId: 2000 });
    await generate(ndjson, { orders: 1500, customers: 350, products: 150, ids: 'string', style: 'ndjson', version: 2, seed: 3, firstOrderId: 1 });
    await s3.put('daily/2024-01-01/a.json', readFileSync(pretty));
    await s3.put('daily/2024-01-01/b.json.gz', gzipSync(readFileSync(compact)));
    await s3.put('daily/2024-01-01/c.ndjson', readFileSync(ndjson));
    await s3.put('daily/2024-01-01/README.txt', 'not an export');
  });
  after(async () => {
    await s3.close();
    files.cleanup();
  });
  beforeEach(async () => {
    db = await freshDatabase();
  });
  afterEach(async () => {
    await db.drop();
  });

  /** The independent model of these local files loaded in this order (not the engine's own clean run). */
  function model(...paths: string[]): KeyedSnapshot {
    const m = emptyModel();
    for (const p of paths) {
      const text = readFileSync(p, 'utf8');
      applyOrders(m, p.endsWith('.ndjson') ? text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)) : JSON.parse(text));
    }
    return modelSnapshot(m);
  }
  const localReference = () => model(pretty, compact, ndjson);

  function same(a: WarehouseSnapshot, b: KeyedSnapshot) {
    assert.deepEqual([a.customers, a.products, a.facts], [b.customers, b.products, b.facts]);
    assert.deepEqual([[...a.customerKeys].sort(), [...a.productKeys].sort()], [[...b.customerKeys].sort(), [...b.productKeys].sort()], 'surrogate keys');
  }

  it('loads a prefix of pretty JSON, gzipped compact JSON and NDJSON exactly like the local files in key order', async () => {
    const r = await runCli(['load', `s3://${BUCKET}/daily/2024-01-01/`, '--db', db.url, '--s3-endpoint', s3.endpoint, '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /skipping s3:\/\/exports\/daily\/2024-01-01\/README\.txt/);
    const summary = JSON.parse(r.stdout);
    assert.deepEqual(summary.sources.map((s: { uri: string }) => s.uri), ['a.json', 'b.json.gz', 'c.ndjson'].map((k) => `s3://${BUCKET}/daily/2024-01-01/${k}`));
    same(await db.snapshot(), localReference());
    const ledger = await db.query<any>("SELECT fingerprint FROM etl_loads WHERE status = 'completed'");
    assert.equal(ledger.length, 3);
    assert.match(ledger[0].fingerprint, /^etag=/);
    const again = await runCli(['load', `s3://${BUCKET}/daily/2024-01-01/`, '--db', db.url, '--s3-endpoint', s3.endpoint, '--json']);
    assert.equal(JSON.parse(again.stdout).skipped, 3);
  });

  it('skips markers and other files under a prefix whatever --format says; --format reads names without an extension', async () => {
    // Hadoop and Redshift UNLOAD name their parts without an extension; _SUCCESS and a manifest sit beside them.
    await s3.put('unload/2024-01-01/0000_part_00.gz', gzipSync(readFileSync(ndjson)));
    await s3.put('unload/2024-01-01/_SUCCESS', '');
    await s3.put('unload/2024-01-01/manifest', '{"entries": [{"url": "s3://exports/unload/2024-01-01/0000_part_00.gz"}]}');
    await s3.put('unload/2024-01-01/notes.txt', '{"note": 1}');
    for (const format of ['ndjson', 'auto']) {
      const r = await runCli(['load', `s3://${BUCKET}/unload/2024-01-01/`, '--db', db.url, '--s3-endpoint', s3.endpoint, '--format', format, '--json', '--force']);
      assert.equal(r.code, 0, `--format ${format}: ${r.stderr}`);
      assert.deepEqual(JSON.parse(r.stdout).sources.map((s: { uri: string }) => s.uri), [`s3://${BUCKET}/unload/2024-01-01/0000_part_00.gz`]);
      assert.match(r.stderr, /skipping s3:\/\/exports\/unload\/2024-01-01\/_SUCCESS: .*nor a name without an extension that --format can read/);
      assert.match(r.stderr, /skipping s3:\/\/exports\/unload\/2024-01-01\/manifest: /);
      assert.match(r.stderr, /skipping s3:\/\/exports\/unload\/2024-01-01\/notes\.txt: /);
    }
    same(await db.snapshot(), model(ndjson));
    // Without --format a name says nothing: every object there is skipped, and the load says so.
    const none = await runCli(['load', `s3://${BUCKET}/unload/2024-01-01/`, '--db', db.url, '--s3-endpoint', s3.endpoint]);
    assert.equal(none.code, 0, none.stderr);
    assert.match(none.stderr, /skipping s3:\/\/exports\/unload\/2024-01-01\/0000_part_00\.gz: not \.json, \.ndjson, \.jsonl \(or \.gz of one\)\n/);
    assert.match(none.stderr, /nothing to load under s3:\/\/exports\/unload\/2024-01-01\/\n.*loaded 0 of 0 source\(s\)/s);
    // A prefix with no object under it at all: the same note, nothing written, exit 0 (see the README).
    const empty = await runCli(['load', `s3://${BUCKET}/unload/2099-01-01/`, '--db', db.url, '--s3-endpoint', s3.endpoint]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.match(empty.stderr, /^orders-etl: nothing to load under s3:\/\/exports\/unload\/2099-01-01\/\n.*loaded 0 of 0 source\(s\)/s);
    // Nothing written means no warehouse made either: a DuckDB file that did not exist still does not.
    const tmp = tempDir();
    try {
      const absent = join(tmp.dir, 'never-made.duckdb');
      const made = await runCli(['load', `s3://${BUCKET}/unload/2099-01-01/`, '--db', `duckdb:${absent}`, '--s3-endpoint', s3.endpoint, '--json']);
      assert.equal(made.code, 0, made.stderr);
      assert.equal(JSON.parse(made.stdout).files, 0);
      assert.equal(existsSync(absent), false, `${absent} was created by a load with nothing to load`);
    } finally {
      tmp.cleanup();
    }
  });

  it('loads an export wrapped in an object from S3, gzipped, with --records-path, by both parsers', async () => {
    const orders = JSON.parse(readFileSync(pretty, 'utf8')) as unknown[];
    await s3.put('wrapped/2024-01-01/orders.json.gz', gzipSync(JSON.stringify({ meta: { page: 1 }, data: { orders } })));
    const expected = await (async () => {
      const ref = await freshDatabase();
      try {
        assert.equal((await runCli(['load', pretty, '--db', ref.url])).code, 0);
        return await ref.snapshot();
      } finally {
        await ref.drop();
      }
    })();
    for (const parser of ['scanner', 'stream-json']) {
      const target = await freshDatabase();
      try {
        const uri = `s3://${BUCKET}/wrapped/2024-01-01/orders.json.gz`;
        const refused = await runCli(['load', uri, '--db', target.url, '--s3-endpoint', s3.endpoint, '--parser', parser]);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /s3:\/\/exports\/wrapped\/2024-01-01\/orders\.json\.gz: .*load them with --records-path data\.orders/);
        const r = await runCli(['load', uri, '--db', target.url, '--s3-endpoint', s3.endpoint, '--parser', parser, '--records-path', 'data.orders', '--json']);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).orders, orders.length);
        same(await target.snapshot(), expected);
      } finally {
        await target.drop();
      }
    }
  });

  it('follows the listing to its second page and beyond', async () => {
    const sources = await resolveSources([`s3://${BUCKET}/daily/`], {
      format: undefined,
      s3: { endpoint: s3.endpoint, stallTimeout: 5, retries: 2, pageSize: 1 },
      note: () => {},
    });
    assert.deepEqual(sources.map((s) => s.uri.split('/').pop()), ['a.json', 'b.json.gz', 'c.ndjson']);
    const wh = await openWarehouse(db.url, { retries: 1 });
    try {
      await runLoad(sources, wh, { ...DEFAULTS, batchSize: null, parser: 'scanner', force: false });
    } finally {
      await wh.close();
    }
    same(await db.snapshot(), localReference());
  });

  it('completes exactly when the proxy cuts the body twice and stalls it once', async () => {
    for (const [key, local] of [['daily/2024-01-01/a.json', pretty], ['daily/2024-01-01/b.json.gz', compact]] as const) {
      const proxy = await startFaultProxy(s3.endpoint, [
        { after: 200_000, kind: 'cut' },
        { after: 150_000, kind: 'cut' },
        { after: 100_000, kind: 'stall' },
      ]);
      const target = await freshDatabase();
      try {
        const r = await runCli(['load', `s3://${BUCKET}/${key}`, '--db', target.url, '--s3-endpoint', proxy.endpoint, '--s3-stall-timeout', '1', '--json']);
        assert.equal(r.code, 0, r.stderr);
        // b.json.gz is small compressed: only the faults it is large enough to reach fire.
        if (key.endsWith('a.json')) assert.equal(proxy.pending(), 0, 'all three faults fired');
        same(await target.snapshot(), model(local));
      } finally {
        await proxy.close();
        await target.drop();
      }
    }
  });

  it('loads an object put back as it was after another version of it was loaded (A, B, then A again); skips it unchanged', async () => {
    // The same bytes have the same ETag: a bad export replaced by the good one it had replaced.
    const key = 'rewritten/orders.json';
    const load = async () => {
      const r = await runCli(['load', `s3://${BUCKET}/${key}`, '--db', db.url, '--s3-endpoint', s3.endpoint, '--json']);
      assert.equal(r.code, 0, r.stderr);
      return JSON.parse(r.stdout) as { skipped: number; orders: number };
    };
    for (const local of [pretty, compact, pretty]) {
      await s3.put(key, readFileSync(local));
      assert.equal((await load()).skipped, 0, `${local} put at ${key} is loaded`);
    }
    same(await db.snapshot(), model(pretty, compact, pretty));
    assert.equal((await load()).skipped, 1, 'loaded and unchanged since: skipped');
  });

  it('fails fast, before writing anything, on a missing key, a missing bucket and refused credentials', async () => {
    const missing = await runCli(['load', `s3://${BUCKET}/daily/nope.json`, '--db', db.url, '--s3-endpoint', s3.endpoint]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /s3:\/\/exports\/daily\/nope\.json/);
    assert.match(missing.stderr, /no such key/);
    assert.doesNotMatch(missing.stderr, /there are objects under/);
    // A prefix typed without its slash names a key; the message says where the objects are.
    const unslashed = await runCli(['load', `s3://${BUCKET}/daily/2024-01-01`, '--db', db.url, '--s3-endpoint', s3.endpoint]);
    assert.equal(unslashed.code, 1);
    assert.match(unslashed.stderr, /no such key \(or bucket\) s3:\/\/exports\/daily\/2024-01-01; there are objects under s3:\/\/exports\/daily\/2024-01-01\/: to load every one, give the prefix with its slash/);
    const bucket = await runCli(['load', 's3://no-such-bucket/x/', '--db', db.url, '--s3-endpoint', s3.endpoint]);
    assert.equal(bucket.code, 1);
    assert.match(bucket.stderr, /bucket no-such-bucket does not exist/);
    assert.deepEqual(await db.query('SHOW TABLES'), [], 'nothing was written');

    const secret = 'wrongSecretKey/DoNotPrint+123';
    const saved = { ...process.env };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIAWRONGKEY', AWS_SECRET_ACCESS_KEY: secret });
    try {
      const r = await runCli(['load', `s3://${BUCKET}/daily/2024-01-01/a.json`, '--db', db.url, '--s3-endpoint', s3.endpoint]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /credentials were refused|access denied/);
      assert.ok(!(r.stdout + r.stderr).includes(secret));
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.AWS_ACCESS_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = saved.AWS_SECRET_ACCESS_KEY;
    }
  });

  it("says what the server said when it refuses the download (a KMS key the credentials may not use)", async () => {
    // S3 answers HEAD on an SSE-KMS object without kms:Decrypt, and refuses the GET with its reason in the body.
    const reason = 'User: arn:aws:iam::123456789012:user/etl is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:eu-west-1:123456789012:key/1234abcd because no identity-based policy allows the kms:Decrypt action';
    const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${reason}</Message><RequestId>R1</RequestId></Error>`;
    await s3.put('kms/x.json', readFileSync(pretty));
    const proxy = await startFaultProxy(s3.endpoint, [], {
      answer: (head) =>
        head.startsWith('GET /exports/kms/x.json')
          ? `HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
          : null,
    });
    try {
      const r = await runCli(['load', `s3://${BUCKET}/kms/x.json`, '--db', db.url, '--s3-endpoint', proxy.endpoint]);
      assert.equal(r.code, 1, r.stderr);
      assert.ok(r.stderr.includes(`access denied to s3://${BUCKET}/kms/x.json (the server said AccessDenied: ${reason})`), r.stderr);
      assert.match(r.stderr, /kms:Decrypt\), or they were refused/);
      assert.equal(proxy.requests().filter((h) => h.startsWith('GET /exports/kms/x.json')).length, 1, 'a refusal is not retried');
    } finally {
      await proxy.close();
    }
  });

  it('follows S3\'s redirect to the bucket\'s region when the configured region is another', async () => {
    // AWS answers a request signed for the wrong region with 301 and the bucket's region in a header (a HEAD
    // without a body, a GET with PermanentRedirect): the SDK re-signs for that region when told to follow.
    await s3.put('moved/x.json', readFileSync(pretty));
    let headRedirected = false;
    let getRedirected = false;
    const redirect = (body: string) =>
      `HTTP/1.1 301 Moved Permanently\r\nx-amz-bucket-region: eu-west-1\r\nContent-Type: application/xml\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
    const proxy = await startFaultProxy(s3.endpoint, [], {
      answer: (head) => {
        if (head.startsWith('HEAD /exports/moved/unsaid.json')) return redirect('').replace(/x-amz-bucket-region: .*\r\n/, '');
        if (!head.includes('/exports/moved/x.json') || head.includes('/eu-west-1/s3/aws4_request')) return null;
        if (head.startsWith('HEAD ') && !headRedirected) {
          headRedirected = true;
          return redirect('');
        }
        if (head.startsWith('GET ') && !getRedirected) {
          getRedirected = true;
          return redirect('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message><Endpoint>exports.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>exports</Bucket></Error>');
        }
        return null;
      },
    });
    const target = await freshDatabase();
    try {
      const r = await runCli(['load', `s3://${BUCKET}/moved/x.json`, '--db', target.url, '--s3-endpoint', proxy.endpoint, '--s3-region', 'us-east-1', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(headRedirected && getRedirected, 'both the HEAD and the GET were redirected once');
      const signed = proxy.requests().filter((h) => h.includes('/exports/moved/x.json'));
      assert.match(signed.at(-1)!, /\/eu-west-1\/s3\/aws4_request/, 'the last request was signed for the bucket\'s region');
      same(await target.snapshot(), model(pretty));
      // A 301 that does not name the region (a proxy that drops the header) says what to do.
      const unsaid = await runCli(['load', `s3://${BUCKET}/moved/unsaid.json`, '--db', target.url, '--s3-endpoint', proxy.endpoint, '--s3-region', 'us-east-1']);
      assert.equal(unsaid.code, 1);
      assert.match(unsaid.stderr, /cannot read s3:\/\/exports\/moved\/unsaid\.json: the bucket is in another region than the one configured \(HTTP 301\) and the answer did not say which: pass the bucket's region with --s3-region/);
    } finally {
      await proxy.close();
      await target.drop();
    }
  });

  it('stops with an error naming bucket, key and offset when the object changes mid-read', async () => {
    await s3.put('changing/x.json', readFileSync(pretty));
    const proxy = await startFaultProxy(s3.endpoint, [{ after: 300_000, kind: 'cut' }]);
    try {
      const sources = await resolveSources([`s3://${BUCKET}/changing/x.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 5, retries: 3, backoffMs: 300 }, note: () => {} });
      await sources[0]!.info();
      const body = sources[0]!.open();
      let bytes = 0;
      const done = new Promise<Error | null>((resolve) => {
        body.on('data', (d: Buffer) => {
          bytes += d.length;
        });
        body.on('error', resolve);
        body.on('end', () => resolve(null));
      });
      // Replace the object while the first connection is being cut: the resume must see a different ETag.
      await new Promise((r) => setTimeout(r, 50));
      await s3.put('changing/x.json', readFileSync(compact));
      const err = await done;
      assert.ok(err, `expected an error after ${bytes} bytes`);
      assert.match(err.message, /s3:\/\/exports\/changing\/x\.json changed while it was being read .* at byte \d+/);
    } finally {
      await proxy.close();
    }
  });
});

describe('the S3 client', () => {
  let s3: TestS3;
  const files = tempDir();
  const saved = { ...process.env };
  before(async () => {
    s3 = await startS3();
    await s3.put('client/x.json', '[]');
  });
  after(async () => {
    await s3.close();
    files.cleanup();
  });
  afterEach(() => {
    for (const name of ['AWS_REGION', 'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });

  /** The region a client made with these options signs for, with these AWS_ variables (undefined: unset). */
  async function region(opts: Partial<S3Options>, env: Record<string, string | undefined>): Promise<string> {
    for (const [name, value] of Object.entries(env)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    const { lookup, body } = makeS3Clients({ stallTimeout: 5, retries: 0, ...opts });
    try {
      const signed = await lookup.config.region();
      assert.equal(await body.config.region(), signed, 'both clients sign for one region');
      return signed;
    } finally {
      lookup.destroy();
      body.destroy();
    }
  }

  it('signs requests to an endpoint for the region of AWS_REGION or the profile, us-east-1 only when neither has one; --s3-region first', async () => {
    // Shared files of this test only: the machine's ~/.aws must not decide. Each case its own file name, as the
    // SDK caches a file's contents by its path.
    const profiles = (name: string, text: string) => ({ AWS_CONFIG_FILE: files.file(name, text), AWS_SHARED_CREDENTIALS_FILE: join(files.dir, 'no-credentials') });
    const endpoint = s3.endpoint;
    assert.equal(await region({ endpoint }, { AWS_REGION: 'eu-central-1', AWS_PROFILE: undefined, ...profiles('none', '') }), 'eu-central-1');
    assert.equal(await region({ endpoint }, { AWS_REGION: undefined, AWS_PROFILE: 'minio', ...profiles('minio', '[profile minio]\nregion = eu-north-1\n') }), 'eu-north-1');
    assert.equal(await region({ endpoint }, { AWS_REGION: undefined, AWS_PROFILE: undefined, ...profiles('default', '[default]\nregion = ap-south-1\n') }), 'ap-south-1');
    // Nothing configured (an empty variable is an unset one): what MinIO and Ceph expect by default.
    assert.equal(await region({ endpoint }, { AWS_REGION: undefined, AWS_PROFILE: 'minio', ...profiles('no-region', '[profile minio]\noutput = json\n') }), 'us-east-1');
    assert.equal(await region({ endpoint }, { AWS_REGION: '', AWS_PROFILE: undefined, ...profiles('empty', '') }), 'us-east-1');
    assert.equal(await region({ endpoint }, { AWS_REGION: '', AWS_PROFILE: undefined, ...profiles('empty-env', '[default]\nregion = eu-north-1\n') }), 'eu-north-1');
    assert.equal(await region({ endpoint, region: 'ca-central-1' }, { AWS_REGION: 'eu-central-1', AWS_PROFILE: undefined, ...profiles('flag', '') }), 'ca-central-1');
    // Without an endpoint, AWS itself: the SDK's chain, as before.
    assert.equal(await region({}, { AWS_REGION: 'eu-west-3', AWS_PROFILE: undefined, ...profiles('aws', '') }), 'eu-west-3');

    // On the wire: the HEAD of an object through an endpoint is signed for AWS_REGION's region.
    process.env.AWS_REGION = 'eu-central-1';
    const proxy = await startFaultProxy(s3.endpoint, []);
    try {
      const [source] = await resolveSources([`s3://${BUCKET}/client/x.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 5, retries: 0 }, note: () => {} });
      await source!.info();
      const heads = proxy.requests();
      assert.equal(heads.length, 1);
      assert.match(heads[0]!, /^HEAD \/exports\/client\/x\.json HTTP/);
      assert.match(heads[0]!, /^authorization: AWS4-HMAC-SHA256 Credential=S3RVER\/\d{8}\/eu-central-1\/s3\/aws4_request,/im);
    } finally {
      await proxy.close();
    }
  });

  /** The error that ends a body read to its end (null: it ended whole); its bytes are thrown away. */
  function readError(body: NodeJS.ReadableStream): Promise<Error | null> {
    return new Promise((resolve) => {
      body.on('data', () => {});
      body.on('error', resolve);
      body.on('end', () => resolve(null));
    });
  }

  it('sends one GET per attempt of a body: --retries n against a server answering HTTP 500 is n + 1 GETs, as the message says', async () => {
    for (const retries of [0, 2]) {
      await s3.put('client/broken.json', '[]');
      const proxy = await startFaultProxy(s3.endpoint, []);
      try {
        const [source] = await resolveSources([`s3://${BUCKET}/client/broken.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 5, retries, backoffMs: 1 }, note: () => {} });
        await source!.info();
        s3.breakObject('client/broken.json');
        const err = await readError(source!.open());
        const gets = proxy.requests().filter((h) => h.startsWith('GET ')).length;
        assert.equal(gets, retries + 1, `--retries ${retries}`);
        assert.match(err?.message ?? '', new RegExp(`giving up on s3://exports/client/broken\\.json at byte 0 of 2 after ${retries + 1} failed attempt\\(s\\): We encountered an internal error`));
      } finally {
        await proxy.close();
      }
    }
    // HEAD, which the load does not retry itself, keeps the SDK's retries: 4 requests, then the error.
    const proxy = await startFaultProxy(s3.endpoint, []);
    try {
      const [source] = await resolveSources([`s3://${BUCKET}/client/broken.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 5, retries: 0 }, note: () => {} });
      await assert.rejects(source!.info(), /cannot read s3:\/\/exports\/client\/broken\.json/);
      assert.equal(proxy.requests().filter((h) => h.startsWith('HEAD ')).length, 4);
    } finally {
      await proxy.close();
    }
  });

  it('retries a HEAD and a list whose connection stalls, as it retries an HTTP 500: 4 attempts, each given up after --s3-stall-timeout', async () => {
    await s3.put('client/stalled/x.json', '[]');
    const methods = (proxy: { requests(): string[] }) => proxy.requests().map((h) => h.split(' ', 1)[0]);
    const stalls = (n: number) => Array.from({ length: n }, () => ({ after: 0, kind: 'stall' as const }));
    // A stalled connection (a keep-alive socket that a NAT dropped answers nothing) is an attempt failed: the
    // proxy's faults fire on connections in turn, here the list's first two; its third attempt reads it.
    let proxy = await startFaultProxy(s3.endpoint, stalls(2));
    try {
      const started = Date.now();
      const [source] = await resolveSources([`s3://${BUCKET}/client/stalled/`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 1, retries: 0 }, note: () => {} });
      assert.equal((await source!.info()).size, 2);
      assert.equal(await readError(source!.open()), null);
      assert.deepEqual(methods(proxy), ['GET', 'GET', 'GET', 'HEAD', 'GET']);
      assert.ok(Date.now() - started < 10_000, `took ${Date.now() - started} ms`);
    } finally {
      await proxy.close();
    }
    // The HEAD of a key, likewise.
    proxy = await startFaultProxy(s3.endpoint, stalls(1));
    try {
      const [source] = await resolveSources([`s3://${BUCKET}/client/stalled/x.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 1, retries: 0 }, note: () => {} });
      assert.equal((await source!.info()).size, 2);
      assert.deepEqual(methods(proxy), ['HEAD', 'HEAD']);
    } finally {
      await proxy.close();
    }
    // A server that stalls every attempt: the SDK's 4, then a message that says so.
    proxy = await startFaultProxy(s3.endpoint, stalls(8));
    try {
      const [source] = await resolveSources([`s3://${BUCKET}/client/stalled/x.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 1, retries: 0 }, note: () => {} });
      await assert.rejects(source!.info(), /cannot read s3:\/\/exports\/client\/stalled\/x\.json: no answer: 4 attempts each waited for a connection \(10s at most\) or a byte \(--s3-stall-timeout\) in vain/);
      assert.deepEqual(methods(proxy), ['HEAD', 'HEAD', 'HEAD', 'HEAD']);
      await assert.rejects(resolveSources([`s3://${BUCKET}/client/stalled/`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 1, retries: 0 }, note: () => {} }), /cannot list s3:\/\/exports\/client\/stalled\/: no answer: 4 attempts/);
      assert.equal(proxy.requests().filter((h) => h.startsWith('GET ')).length, 4);
    } finally {
      await proxy.close();
    }
  });

  it('reads a body whose first GET is refused for the clock\'s skew, as the SDK\'s own retries did', async () => {
    await s3.put('client/skewed.json', '[]');
    const proxy = await startFaultProxy(s3.endpoint, []);
    // This process's clock an hour slow: s3rver, as S3, refuses a request signed more than 15 minutes off its own
    // time. The SDK corrects each client's clock offset from the time the refusal carries.
    const now = Date.now;
    Date.now = () => now() - 3_600_000;
    try {
      // --retries 0 too: the GET made again for the skew is not a retry of a failure.
      const [source] = await resolveSources([`s3://${BUCKET}/client/skewed.json`], { format: undefined, s3: { endpoint: proxy.endpoint, stallTimeout: 5, retries: 0, backoffMs: 1 }, note: () => {} });
      await source!.info();
      assert.equal(await readError(source!.open()), null);
      // The HEAD again by the SDK; the GET again by the body, whose client learns the offset from its own refusal.
      assert.deepEqual(proxy.requests().map((h) => h.split(' ', 1)[0]), ['HEAD', 'HEAD', 'GET', 'GET']);
    } finally {
      Date.now = now;
      await proxy.close();
    }
  });
});

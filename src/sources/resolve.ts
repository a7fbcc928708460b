/** Turn the command line's sources into Source objects, in the order given. */
import { EtlError, importFor, REINSTALL } from '../errors.ts';
import { duckdbFile, isMysqlUrl, isS3Uri, type InputFormat } from '../model.ts';
import { FileSource, StdinSource } from './file.ts';
import type { S3Clients, S3Options } from './s3.ts';
import type { Source } from './types.ts';

export interface ResolveOptions {
  format: InputFormat | undefined;
  s3: S3Options;
  /** Where notes go (skipped keys under a prefix). */
  note: (msg: string) => void;
}

export async function resolveSources(args: readonly string[], opts: ResolveOptions): Promise<Source[]> {
  const out: Source[] = [];
  let clients: S3Clients | null = null;
  for (const arg of args) {
    if (arg === '-') out.push(new StdinSource(opts.format));
    else if (isS3Uri(arg)) {
      // Loaded only for an s3:// source: the AWS SDK adds about 18 MB of resident memory to a process that loads it.
      const { makeS3Clients, resolveS3 } = await importFor(
        { needer: arg, packages: ['@aws-sdk/client-s3'], what: 'the AWS SDK (@aws-sdk/client-s3)', repair: REINSTALL },
        () => import('./s3.ts'),
      );
      out.push(...(await resolveS3(arg, (clients ??= makeS3Clients(opts.s3)), opts.s3, opts.format, opts.note)));
    } else if (isMysqlUrl(arg) || duckdbFile(arg) !== null) {
      // What --db takes, given as a source by mistake: a path would make mysql://u:secret@h/db into
      // /cwd/mysql:/u:secret@h/db, which no message can redact. Only its scheme is shown.
      const scheme = arg.slice(0, arg.indexOf(':') + 1);
      throw new EtlError('E_USAGE', `<source>: ${scheme}… is a warehouse, not an export: give it with --db (a file whose name starts so: ./${scheme}…)`, {}, { redacted: true });
    } else out.push(new FileSource(arg, opts.format));
  }
  return out;
}

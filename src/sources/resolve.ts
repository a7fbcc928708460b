/** Turn the command line's sources into Source objects, in the order given. */
import type { InputFormat } from '../parse/scanner.ts';
import { FileSource, StdinSource } from './file.ts';
import type { Source } from './types.ts';

export interface ResolveOptions {
  format: InputFormat | undefined;
}

export async function resolveSources(args: readonly string[], opts: ResolveOptions): Promise<Source[]> {
  const out: Source[] = [];
  for (const arg of args) {
    if (arg === '-') out.push(new StdinSource(opts.format));
    else out.push(new FileSource(arg, opts.format));
  }
  return out;
}

/**
 * The module graph of src/: no import cycle, and every arrow points one way,
 * cli -> pipeline -> warehouse | transform | sources -> parse -> model (with errors.ts and options.ts beside
 * model as shared vocabulary). `parse` and `sources` know nothing of `warehouse` or `pipeline`.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from './helpers/run.ts';

const SRC = join(ROOT, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Each file of src/ (relative) -> the files of src/ it imports. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) => relative(SRC, resolve(dirname(file), m[1]!)));
    graph.set(relative(SRC, file), targets);
  }
  return graph;
}

/** The room a file belongs to: its folder under src/, or the file itself at the top. */
const room = (f: string) => (f.includes('/') ? f.split('/')[0]! : f.replace(/\.ts$/, ''));

/** What each room may import besides itself. */
const ALLOWED: Record<string, string[]> = {
  model: [],
  errors: [],
  options: ['model', 'errors'],
  parse: ['model', 'errors'],
  sources: ['model', 'errors'],
  transform: ['parse', 'model', 'errors'],
  warehouse: ['model', 'errors'],
  pipeline: ['warehouse', 'transform', 'sources', 'parse', 'options', 'model', 'errors'],
  cli: ['pipeline', 'warehouse', 'transform', 'sources', 'parse', 'options', 'model', 'errors'],
};

describe('the module graph of src/', () => {
  const graph = importGraph();

  it('has no import cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'visiting') {
        cycles.push([...path.slice(path.indexOf(f)), f].join(' -> '));
        return;
      }
      state.set(f, 'visiting');
      for (const t of graph.get(f) ?? []) visit(t, [...path, f]);
      state.set(f, 'done');
    };
    for (const f of graph.keys()) visit(f, []);
    assert.deepEqual(cycles, []);
  });

  it('points every import one way: a room imports only the rooms below it', () => {
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const from = room(file);
      assert.ok(from in ALLOWED, `${file} is in a room the rules do not know: ${from}`);
      for (const t of targets) {
        const to = room(t);
        if (to !== from && !ALLOWED[from]!.includes(to)) wrong.push(`${file} imports ${t}`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});

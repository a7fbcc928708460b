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

/** What a file of src/ (relative) imports: a file of src/ (`local`, relative) or a package; `typeOnly` for `import type`. */
function importsOf(file: string): { target: string; local: boolean; typeOnly: boolean; dynamic: boolean }[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  const to = (spec: string) => (spec.startsWith('.') ? { target: relative(SRC, resolve(dirname(join(SRC, file)), spec)), local: true } : { target: spec, local: false });
  return [
    ...[...text.matchAll(/^(?:import|export)\s(type\s)?[^;]*?from\s+'([^']+)'/gms)].map((m) => ({ ...to(m[2]!), typeOnly: m[1] !== undefined, dynamic: false })),
    ...[...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)].map((m) => ({ ...to(m[1]!), typeOnly: false, dynamic: true })),
  ];
}

/** The packages a file of src/ (relative) requires: require('x'), or createRequire(...)('x'). */
function requiresOf(file: string): string[] {
  const text = readFileSync(join(SRC, file), 'utf8');
  return [...text.matchAll(/(?:\brequire|\bcreateRequire\([^)]*\))\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]!);
}

/** Each file of src/ (relative) -> the files of src/ it imports: statically (types too) or with import(). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(SRC).map((f) => relative(SRC, f))) {
    graph.set(
      file,
      importsOf(file)
        .filter((i) => i.local)
        .map((i) => i.target),
    );
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

/** Packages only some commands need: the DuckDB warehouse, S3 sources (the AWS SDK and its @smithy/core), the MySQL warehouse. */
const HEAVY = /^(@duckdb|@aws-sdk|@smithy)\/|^mysql2(\/|$)/;

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

  it("loads DuckDB's bindings, the AWS SDK and mysql2 only on demand: the CLI's static imports reach none of them", () => {
    const seen = new Set<string>();
    const heavy: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      // A package may also be required (src/warehouse/duckdb/library.ts requires DuckDB's).
      for (const pkg of requiresOf(file)) if (HEAVY.test(pkg)) heavy.push(`${file} requires ${pkg}`);
      for (const { target, local, typeOnly, dynamic } of importsOf(file)) {
        if (typeOnly || dynamic) continue;
        if (local) visit(target);
        else if (HEAVY.test(target)) heavy.push(`${file} imports ${target}`);
      }
    };
    visit('cli/main.ts');
    assert.ok(seen.has('warehouse/index.ts') && seen.has('warehouse/mysql/url.ts') && seen.has('sources/resolve.ts'), 'the walk reached the warehouses, the MySQL URL and the sources');
    assert.ok(!seen.has('warehouse/mysql/dialect.ts') && !seen.has('warehouse/duckdb/dialect.ts'), 'no dialect is imported statically');
    assert.deepEqual(heavy, []);
  });

  it('sees the packages a file requires, in either form', () => {
    assert.ok(requiresOf('warehouse/duckdb/library.ts').includes('@duckdb/node-api'), 'require(...)');
    assert.ok(requiresOf('warehouse/duckdb/text.ts').includes('@duckdb/node-api/lib/vectors/dataAccessors.js'), 'createRequire(...)(...)');
  });
});

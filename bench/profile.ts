/**
 * What a run cost, beyond its wall time: CPU of the engine's process (from the engine's own summary when it
 * reports it, and from outside), CPU of the MariaDB server process over the same interval, and which named
 * database steps account for the database time.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BUILD_FACT_KEYS_STEP, BUILD_HISTORY_KEYS_STEP, DEFERRED_MOVES_STEP, DEFERRED_REPLACES_STEP, DROP_HISTORY_KEYS_STEP, PLAN_AHEAD_STEP } from '../src/warehouse/types.ts';

/** Kernel clock ticks per second, the unit of utime and stime in /proc/<pid>/stat. */
function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** CPU milliseconds (user + system) a process has used so far, or null when it cannot be read. */
function processCpuMs(pid: number, ticks: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? ((utime + stime) * 1000) / ticks : null;
  } catch {
    return null;
  }
}

/** Reads the database server's CPU time; `unavailable` says why not, when it cannot. */
export interface ServerCpu {
  pid: number | null;
  unavailable: string | null;
  /** CPU ms used so far by the server process, or null. */
  read(): number | null;
}

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * The MariaDB server's process, found through `@@pid_file` when the server is on this machine and the file is
 * readable (a server elsewhere would have a pid of another machine: that is n/a, not a number).
 */
export function serverCpu(host: string, pidFile: string | null): ServerCpu {
  const none = (why: string): ServerCpu => ({ pid: null, unavailable: why, read: () => null });
  if (!LOCAL_HOSTS.has(host)) return none(`the server (${host}) is not on this machine`);
  if (!pidFile) return none('the server reports no @@pid_file');
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, 'utf8').trim());
  } catch (err) {
    return none(`cannot read @@pid_file ${pidFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const ticks = clockTicks();
  if (!Number.isInteger(pid) || processCpuMs(pid, ticks) === null) return none(`cannot read /proc/${pid}/stat`);
  return { pid, unavailable: null, read: () => processCpuMs(pid, ticks) };
}

/**
 * The CPU of a child run under `sh -c '...; times'`: the shell's `times` prints its own and its children's user
 * and system time as its last two lines (dash: 0m1.970000s 0m0.010000s; bash: 0m1.970s 0m0.010s).
 */
export function childCpuFromTimes(stderr: string): { userMs: number; systemMs: number } | null {
  const m = /(\d+)m([\d.]+)s (\d+)m([\d.]+)s\s*$/.exec(stderr);
  if (!m) return null;
  const ms = (min: string, s: string) => Math.round((Number(min) * 60 + Number(s)) * 1000);
  return { userMs: ms(m[1]!, m[2]!), systemMs: ms(m[3]!, m[4]!) };
}

/** Database steps the engine times outside the writer's batches (so not inside `stages.databaseMs`). */
const STEPS_OUTSIDE_BATCHES = new Set([BUILD_FACT_KEYS_STEP, BUILD_HISTORY_KEYS_STEP, DROP_HISTORY_KEYS_STEP, DEFERRED_MOVES_STEP, DEFERRED_REPLACES_STEP]);
/** Node's work beside the writer: not database time. */
const NOT_DATABASE_STEPS = new Set([PLAN_AHEAD_STEP]);

export interface StepCoverage {
  /** Database time: `databaseMs` plus the named steps outside batches. */
  totalMs: number;
  /** The largest steps, largest first, as many as it takes to reach 90% of totalMs (or all of them). */
  listed: [string, number][];
  /** Share of totalMs the listed steps account for. */
  coveredPct: number;
  /** Share of totalMs all named steps together account for. */
  namedPct: number;
}

/**
 * Steps named `<step>: <part>` are parts of a step timed inside it (`replace orders: upsert`, `customers: days`):
 * they are not counted again here.
 */
export function stepCoverage(databaseMs: number, steps: Record<string, number>): StepCoverage {
  const outside = Object.entries(steps).filter(([k]) => STEPS_OUTSIDE_BATCHES.has(k)).reduce((a, [, v]) => a + v, 0);
  const totalMs = databaseMs + outside;
  const sorted = Object.entries(steps).filter(([k]) => !k.includes(': ') && !NOT_DATABASE_STEPS.has(k)).sort((a, b) => b[1] - a[1]);
  const listed: [string, number][] = [];
  let covered = 0;
  for (const [k, v] of sorted) {
    if (covered >= 0.9 * totalMs) break;
    listed.push([k, v]);
    covered += v;
  }
  const named = sorted.reduce((a, [, v]) => a + v, 0);
  return { totalMs, listed, coveredPct: totalMs > 0 ? (100 * covered) / totalMs : 0, namedPct: totalMs > 0 ? (100 * named) / totalMs : 0 };
}

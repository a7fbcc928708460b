/**
 * A bounded cache of dimension rows this process has committed: natural key -> surrogate key and the
 * attribute values last written. A row whose values equal the cached ones needs neither staging nor merging,
 * and its surrogate key is already known: in a typical export the same products and customers recur in every
 * batch, so this removes most of the dimension work. Memory stays bounded: when full, the least recently used
 * half-generation goes first (an approximate LRU that does not reorder the map on every hit).
 *
 * Valid because a load holds the warehouse lock (no other writer changes dimensions meanwhile) and entries
 * are added only after their batch commits.
 */
interface Entry {
  sk: string;
  values: (string | null)[];
  used: number;
}

export class DimensionCache {
  private readonly max: number;
  private readonly map = new Map<string, Entry>();
  private tick = 0;

  constructor(maxEntries: number) {
    this.max = maxEntries;
  }

  /** The surrogate key if `values` match what was last committed for `key`; otherwise undefined. */
  hit(key: string, values: (string | null)[]): string | undefined {
    const e = this.map.get(key);
    if (e === undefined || !sameValues(e.values, values)) return undefined;
    // Move to the young end only when the entry has aged by half the capacity: rare map churn.
    if (this.tick - e.used > this.max / 2) {
      this.map.delete(key);
      this.map.set(key, e);
      e.used = this.tick;
    }
    this.tick++;
    return e.sk;
  }

  /** Forget everything (after a reconnect: see SqlWarehouse.ensureConnected). */
  clear(): void {
    this.map.clear();
  }

  set(key: string, sk: string, values: (string | null)[]): void {
    this.map.delete(key);
    this.map.set(key, { sk, values, used: this.tick++ });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

function sameValues(a: (string | null)[], b: (string | null)[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A bounded cache of dimension rows this process has committed: natural key -> surrogate key and the
 * attributes last written. A row whose attributes equal the cached ones needs neither staging nor merging,
 * and its surrogate key is already known: in a typical export the same products and customers recur in every
 * batch, so this removes most of the dimension work. Memory stays bounded: least recently used keys go first.
 *
 * Valid because a load holds the warehouse lock (no other writer changes dimensions meanwhile) and entries
 * are added only after their batch commits.
 */
export class DimensionCache {
  private readonly max: number;
  private readonly map = new Map<string, { sk: string; attrs: string }>();

  constructor(maxEntries: number) {
    this.max = maxEntries;
  }

  /** The surrogate key if `attrs` match what was last committed for `key`; otherwise undefined. */
  hit(key: string, attrs: string): string | undefined {
    const e = this.map.get(key);
    if (e === undefined || e.attrs !== attrs) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.sk;
  }

  set(key: string, sk: string, attrs: string): void {
    this.map.delete(key);
    this.map.set(key, { sk, attrs });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }

  clear(): void {
    this.map.clear();
  }

  get size(): number {
    return this.map.size;
  }
}

/** Attributes as one comparable string: length-prefixed, so no value can imitate a separator. */
export function attrKey(values: (string | null)[]): string {
  let s = '';
  for (const v of values) s += v === null ? '~' : `${v.length}:${v}`;
  return s;
}

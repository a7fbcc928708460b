/**
 * What the engine knows of the warehouse while it holds the lock, in bounded memory, so that a batch needs
 * no read before it writes:
 *
 * - DimensionKeys: natural key -> surrogate key and a 53-bit hash of the attributes last committed. Loaded
 *   from the dimension table when a load starts (if it fits), kept exact by every commit. While it holds every
 *   key of the table (`complete`), a key it does not know is new for certain: its surrogate key is the next
 *   number, handed out here in order of first appearance, and its row is inserted without staging or lookup.
 *   A key it knows with the same hash is unchanged and skipped; with another hash it is updated by surrogate
 *   key. Past its capacity it forgets the oldest entries and is no longer complete: keys it does not know are
 *   then looked up in the warehouse first (correct, only slower).
 * - OrderFilter: a Bloom filter of the order ids the fact table may hold. An order it has never seen cannot
 *   have lines yet, so its lines are simply appended: no delete, no upsert.
 *
 * Both are valid only while this process is the one writer (the warehouse lock), and are rebuilt from the
 * warehouse after a reconnect (another load may have written in between).
 */

/** 53-bit hash of a row's attribute values (cyrb53 over the values with their boundaries and NULLs marked). */
export function attributeHash(values: readonly (string | null)[]): number {
  return hashOf3(values[0] ?? null, values[1] ?? null, values[2] ?? null, values.length);
}

/** attributeHash of up to three values, without an array (the dimensions have three attributes). */
export function hashOf3(a: string | null, b: string | null, c: string | null, count = 3): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let v = 0; v < count; v++) {
    const s = v === 0 ? a : v === 1 ? b : c;
    // A NULL and each boundary mix in a code unit no string of text contains at that place: '' and NULL, and
    // ["ab", "c"] and ["a", "bc"], hash differently.
    const mark = s === null ? 0x110000 : 0x110001 + v;
    h1 = Math.imul(h1 ^ mark, 2654435761);
    h2 = Math.imul(h2 ^ mark, 1597334677);
    if (s === null) continue;
    for (let i = 0; i < s.length; i++) {
      const ch = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ ch, 2654435761);
      h2 = Math.imul(h2 ^ ch, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * Natural key -> slot, in an open-addressing table (linear probing over an Int32Array of slots, the keys in an
 * array by slot): about 18 bytes per key beside the strings themselves, where a Map takes about 28 to 56 (its
 * entries and buckets, grown by doubling). For 600,000 customers the heap was 25 MB smaller at the end of the
 * bench's 3 M load.
 * A key that is a decimal integer below 2^31 written the usual way (no sign, no leading zero: what the
 * transform makes of a numeric id) is kept as that number instead of its string, and found by it: no string
 * is hashed or compared, which took the history first load's lookups of 1 M orders from about 2.2 s to about
 * 1 s, and none is held (about 24 bytes a key: the heap that full collections mark grows less with the keys).
 * Slots are handed out by the owner; the table only finds them.
 */
export class KeyIndex {
  /** Slot of each key, or -1: a power of two of entries, at most 70% full. */
  private index: Int32Array;
  private mask: number;
  /** The key in each slot; null for a key kept as its integer (in `numbers`), `undefined` for a free slot. */
  private readonly keys: (string | null | undefined)[] = [];
  /** The key in each slot as its integer (integerKey), or -1. */
  private numbers: Int32Array;
  size = 0;
  /** The heap the string keys take (keyHeapBytes of each; a key kept as its integer takes none). */
  keyBytes = 0;

  /** `expected`: how many keys it will likely hold (it grows past that as needed). */
  constructor(expected = 0) {
    let length = 1024;
    while (length * 7 < expected * 10) length *= 2;
    this.index = new Int32Array(length).fill(-1);
    this.mask = length - 1;
    this.numbers = new Int32Array(Math.max(1024, expected));
  }

  get(key: string): number {
    const index = this.index;
    const mask = this.mask;
    const n = integerKey(key);
    if (n >= 0) {
      const numbers = this.numbers;
      for (let i = hashInteger(n) & mask; ; i = (i + 1) & mask) {
        const slot = index[i]!;
        if (slot < 0 || numbers[slot] === n) return slot;
      }
    }
    for (let i = hashString(key) & mask; ; i = (i + 1) & mask) {
      const slot = index[i]!;
      if (slot < 0) return -1;
      if (this.keys[slot] === key) return slot;
    }
  }

  /** Record a key that is not in the table yet, at `slot`. */
  add(key: string, slot: number): void {
    if ((this.size + 1) * 10 > this.index.length * 7) this.resize(this.index.length * 2);
    const n = integerKey(key);
    while (this.keys.length < slot) this.keys.push(undefined);
    this.keys[slot] = n >= 0 ? null : key;
    if (n < 0) this.keyBytes += keyHeapBytes(key);
    if (slot >= this.numbers.length) {
      const numbers = new Int32Array(Math.max(slot + 1, Math.ceil(this.numbers.length * 1.5)));
      numbers.set(this.numbers);
      this.numbers = numbers;
    }
    this.numbers[slot] = n;
    this.place(this.hashAt(slot), slot);
    this.size++;
  }

  /** Forget the key in `slot` (backward-shift deletion: no tombstones, lookups stay short). */
  remove(slot: number): void {
    if (this.keys[slot] === undefined) return;
    const index = this.index;
    const mask = this.mask;
    let i = this.hashAt(slot) & mask;
    while (index[i] !== slot) i = (i + 1) & mask;
    // Move later entries of the run back into the hole when their home is not between the hole and them.
    for (let j = (i + 1) & mask; index[j]! >= 0; j = (j + 1) & mask) {
      const home = this.hashAt(index[j]!) & mask;
      if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
        index[i] = index[j]!;
        i = j;
      }
    }
    index[i] = -1;
    const key = this.keys[slot];
    if (typeof key === 'string') this.keyBytes -= keyHeapBytes(key);
    this.keys[slot] = undefined;
    this.numbers[slot] = -1;
    this.size--;
  }

  clear(): void {
    this.index = new Int32Array(1024).fill(-1);
    this.mask = 1023;
    this.keys.length = 0;
    this.numbers = new Int32Array(1024);
    this.size = 0;
    this.keyBytes = 0;
  }

  /** The hash of the key in a slot in use. */
  private hashAt(slot: number): number {
    const key = this.keys[slot];
    return key === null || key === undefined ? hashInteger(this.numbers[slot]!) : hashString(key);
  }

  private place(hash: number, slot: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = hash & mask;
    while (index[i]! >= 0) i = (i + 1) & mask;
    index[i] = slot;
  }

  private resize(length: number): void {
    this.index = new Int32Array(length).fill(-1);
    this.mask = length - 1;
    for (let s = 0; s < this.keys.length; s++) {
      if (this.keys[s] !== undefined) this.place(this.hashAt(s), s);
    }
  }
}

/** The header of a string in V8's heap, before its characters (keyHeapBytes, and the check before a read). */
export const STRING_HEADER_BYTES = 16;

/**
 * About what V8 takes for a string key: a header and its characters, one byte each when all are Latin-1, else
 * two, rounded up to 8 bytes. Natural keys may be up to 128 characters: a count of keys alone does not bound them.
 */
export function keyHeapBytes(key: string): number {
  let perChar = 1;
  for (let i = 0; i < key.length; i++) {
    if (key.charCodeAt(i) > 0xff) {
      perChar = 2;
      break;
    }
  }
  return (STRING_HEADER_BYTES + key.length * perChar + 7) & ~7;
}

/** The key as a number if it is a decimal integer below 2^31 with no sign and no leading zero, else -1. */
export function integerKey(key: string): number {
  const length = key.length;
  if (length === 0 || length > 10 || (length > 1 && key.charCodeAt(0) === 48)) return -1;
  let n = 0;
  for (let i = 0; i < length; i++) {
    const digit = key.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n <= 0x7fffffff ? n : -1;
}

/** A murmur finish of the integer (linear probing needs well-spread low bits). */
function hashInteger(n: number): number {
  let h = Math.imul(n ^ (n >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units, finished with a murmur mix (linear probing needs well-spread low bits). */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return hashInteger(h);
}

export class DimensionKeys {
  private readonly capacity: number;
  /** The most heap the keys' strings may take (KeyIndex.keyBytes): long keys go before `capacity` is reached. */
  private readonly byteCapacity: number;
  /** A key was forgotten since clear(): a table read whole into the map is not complete then. */
  evicted = false;
  /** natural key -> slot in the typed arrays below. */
  private readonly slots = new KeyIndex();
  private sks: Float64Array;
  private hashes: Float64Array;
  /** The slots in use in the order their keys were first set: a ring from `head`, `queued` long. */
  private order: Int32Array;
  private head = 0;
  private queued = 0;
  private free: number[] = [];
  private used = 0;
  /** Every key of the table is here (none forgotten, loaded whole or from an empty table). */
  complete = false;
  /** The largest surrogate key in the table. */
  maxSk = 0;

  constructor(capacity: number, byteCapacity = Infinity) {
    this.capacity = capacity;
    this.byteCapacity = byteCapacity;
    const initial = Math.min(capacity, 1024);
    this.sks = new Float64Array(initial);
    this.hashes = new Float64Array(initial);
    this.order = new Int32Array(initial);
  }

  get size(): number {
    return this.slots.size;
  }

  clear(): void {
    this.slots.clear();
    this.absent.clear();
    this.free = [];
    this.used = 0;
    this.head = 0;
    this.queued = 0;
    this.complete = false;
    this.evicted = false;
    this.maxSk = 0;
  }

  /** Where a key is (for skAt and hashAt), or -1 for a key not known. */
  slotOf(key: string): number {
    return this.slots.get(key);
  }

  skAt(slot: number): number {
    return this.sks[slot]!;
  }

  hashAt(slot: number): number {
    return this.hashes[slot]!;
  }

  /**
   * Remember a row. Past capacity, the oldest entries go, and the map is no longer complete; `evict: false`
   * (rows just looked up for the batch being planned) lets it hold more until the next set() trims it.
   */
  set(key: string, sk: number, hash: number, evict = true): void {
    let slot = this.slots.get(key);
    if (slot < 0) {
      if (evict && (this.slots.size >= this.capacity || this.slots.keyBytes > this.byteCapacity)) this.forgetOldest();
      slot = this.free.pop() ?? this.used++;
      if (slot >= this.sks.length) this.grow();
      this.slots.add(key, slot);
      this.order[(this.head + this.queued++) % this.order.length] = slot;
    }
    this.sks[slot] = sk;
    this.hashes[slot] = hash;
    if (sk > this.maxSk) this.maxSk = sk;
  }

  /** Keys a lookup in the warehouse did not find: new, for the batch being planned (when not complete). */
  private absent = new Set<string>();

  lookedUp(ids: readonly string[]): void {
    this.absent = new Set(ids.filter((id) => this.slots.get(id) < 0));
  }

  /** A key not in the map is new if the map is complete, or if the lookup for this batch did not find it. */
  isNew(key: string): boolean {
    return this.complete || this.absent.has(key);
  }

  private forgetOldest(): void {
    // The keys set longest ago go (only past capacity, down to seven eighths of it, of keys and of their bytes,
    // at least one): the head of the ring.
    const keep = Math.floor(this.capacity * 0.875);
    const keepBytes = this.byteCapacity * 0.875;
    for (let first = true; this.queued > 0 && (first || this.slots.size > keep || this.slots.keyBytes > keepBytes); first = false) {
      const slot = this.order[this.head]!;
      this.head = (this.head + 1) % this.order.length;
      this.queued--;
      this.slots.remove(slot);
      this.free.push(slot);
    }
    this.complete = false;
    this.evicted = true;
  }

  private grow(): void {
    // By half again, not double: the arrays stay within a third of what the keys need.
    const size = Math.ceil(this.sks.length * 1.5);
    for (const name of ['sks', 'hashes'] as const) {
      const bigger = new Float64Array(size);
      bigger.set(this[name]);
      this[name] = bigger;
    }
    const order = new Int32Array(size);
    for (let i = 0; i < this.queued; i++) order[i] = this.order[(this.head + i) % this.order.length]!;
    this.order = order;
    this.head = 0;
  }
}

/**
 * A Bloom filter of order ids: `mightHold` is false only for an id never added. 10 bits and 7 probes per
 * expected id: about 1% false positives (an order treated as possibly present costs a delete that finds
 * nothing). Sized for `expected` ids; past that the false positive rate rises, which is still correct.
 */
export class OrderFilter {
  private readonly bits: Uint32Array;
  private readonly mask: number;
  private static readonly PROBES = 7;

  constructor(expected: number) {
    // A power of two of bits, at least 10 per expected id, at most 2^28 (32 MiB).
    let size = 2 ** 16;
    while (size < expected * 10 && size < 2 ** 28) size *= 2;
    this.bits = new Uint32Array(size / 32);
    this.mask = size - 1;
  }

  add(id: string): void {
    const [a, b] = twoHashes(id);
    for (let i = 0; i < OrderFilter.PROBES; i++) {
      const bit = (a + i * b) & this.mask;
      this.bits[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightHold(id: string): boolean {
    const [a, b] = twoHashes(id);
    for (let i = 0; i < OrderFilter.PROBES; i++) {
      const bit = (a + i * b) & this.mask;
      if ((this.bits[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

const pair: [number, number] = [0, 0];

function twoHashes(s: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x27d4eb2f;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 16777619);
    h2 = Math.imul(h2 ^ c, 2246822519);
  }
  h2 ^= h2 >>> 15;
  pair[0] = h1 >>> 0;
  pair[1] = (h2 | 1) >>> 0;
  return pair;
}

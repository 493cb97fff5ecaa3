// Message id → line number for every message of an import file, kept compact: a file of a
// million messages would hold a million 36-character strings in a Map (over 100 bytes each).
// Here each id is its 16 bytes in an open-addressing table, with the line beside it: 20 bytes
// a slot, the table at most three quarters full, so 27 to 53 bytes an id (42 MB for a million).

const EMPTY = 0; // lines are numbered from 1
const MAX_LOAD = 0.75;

const HEX = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A map from UUIDs (text, any case) to positive line numbers. */
export class UuidLineMap {
  private keys: Uint32Array;
  private lines: Uint32Array;
  private mask: number;
  private count = 0;
  private readonly word = new Uint32Array(4);

  constructor(capacity = 1024) {
    let slots = 16;
    while (slots * MAX_LOAD < capacity) slots *= 2;
    this.keys = new Uint32Array(slots * 4);
    this.lines = new Uint32Array(slots);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  get(id: string): number | undefined {
    if (!this.parse(id)) return undefined;
    const slot = this.find(this.keys, this.lines, this.mask);
    return this.lines[slot] === EMPTY ? undefined : this.lines[slot];
  }

  /** Records the line of `id` (replacing an earlier one). */
  set(id: string, line: number): this {
    if (!Number.isInteger(line) || line < 1 || line > 0xffffffff) throw new RangeError(`line ${line} is not a positive 32-bit number`);
    // Grown first: growing reuses `word`.
    if (this.count + 1 > (this.mask + 1) * MAX_LOAD) this.grow();
    if (!this.parse(id)) throw new TypeError(`${JSON.stringify(id)} is not a UUID`);
    const slot = this.find(this.keys, this.lines, this.mask);
    if (this.lines[slot] === EMPTY) {
      this.keys.set(this.word, slot * 4);
      this.count += 1;
    }
    this.lines[slot] = line;
    return this;
  }

  /** Puts the id's 16 bytes in `word`; false when it is not a UUID. */
  private parse(id: string): boolean {
    if (id.length !== 36 || !HEX.test(id)) return false;
    const w = this.word;
    w[0] = parseInt(id.slice(0, 8), 16);
    w[1] = parseInt(id.slice(9, 13) + id.slice(14, 18), 16);
    w[2] = parseInt(id.slice(19, 23) + id.slice(24, 28), 16);
    w[3] = parseInt(id.slice(28, 36), 16);
    return true;
  }

  /** The slot holding `word`, or the empty slot where it would go (linear probing). */
  private find(keys: Uint32Array, lines: Uint32Array, mask: number): number {
    const w = this.word;
    // Ids are mostly random already; the mix spreads ids that are not (sequential, v1, v7).
    let h = Math.imul(w[0] ^ w[1] ^ w[2] ^ w[3], 0x9e3779b1);
    h ^= h >>> 15;
    let slot = h & mask;
    while (lines[slot] !== EMPTY) {
      const k = slot * 4;
      if (keys[k] === w[0] && keys[k + 1] === w[1] && keys[k + 2] === w[2] && keys[k + 3] === w[3]) return slot;
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  private grow(): void {
    const oldKeys = this.keys;
    const oldLines = this.lines;
    const slots = (this.mask + 1) * 2;
    this.keys = new Uint32Array(slots * 4);
    this.lines = new Uint32Array(slots);
    this.mask = slots - 1;
    const w = this.word;
    for (let s = 0; s < oldLines.length; s++) {
      if (oldLines[s] === EMPTY) continue;
      w.set(oldKeys.subarray(s * 4, s * 4 + 4));
      const slot = this.find(this.keys, this.lines, this.mask);
      this.keys.set(w, slot * 4);
      this.lines[slot] = oldLines[s];
    }
  }
}

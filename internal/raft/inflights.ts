// Flow control for one follower in replicate state: the MsgApp messages sent but not yet
// acknowledged, as a ring of (last index, bytes). Full when the count or the byte budget is reached.

export class Inflights {
  private start = 0;
  private count = 0;
  private totalBytes = 0;
  private indexes: number[] = [];
  private sizes: number[] = [];

  constructor(
    readonly capacity: number,
    /** 0 = no byte limit. */
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** Records a message whose last entry is `index`; indexes must increase. */
  add(index: number, bytes: number): void {
    if (this.count >= this.capacity) return;
    let slot = this.start + this.count;
    if (slot >= this.capacity) slot -= this.capacity;
    if (slot >= this.indexes.length) {
      this.indexes.push(index);
      this.sizes.push(bytes);
    } else {
      this.indexes[slot] = index;
      this.sizes[slot] = bytes;
    }
    this.count++;
    this.totalBytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (they were acknowledged). */
  freeLE(index: number): void {
    while (this.count > 0 && (this.indexes[this.start] ?? Infinity) <= index) {
      this.totalBytes -= this.sizes[this.start] ?? 0;
      this.start++;
      if (this.start >= this.capacity) this.start = 0;
      this.count--;
    }
    if (this.count === 0) {
      this.start = 0;
      this.totalBytes = 0;
    }
  }

  full(): boolean {
    return this.count >= this.capacity || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  reset(): void {
    this.start = 0;
    this.count = 0;
    this.totalBytes = 0;
  }
}

// An ordered set of strings as a B+ tree: O(log n) add and delete, and an in-order walk from any
// lower bound along linked leaves, so that a prefix range costs O(log n + matches) rather than a
// scan of every key. The state machine keeps values in a Map and only the key order here.

/** Most keys in a leaf, and most children of an inner node. */
const MAX = 64;
/** Fewest keys in a non-root leaf, and fewest children of a non-root inner node. */
const MIN = MAX >> 1;

interface Leaf {
  readonly leaf: true;
  keys: string[];
  next: Leaf | null;
}

interface Inner {
  readonly leaf: false;
  /** keys[i] is the smallest key under children[i + 1]; keys.length === children.length - 1. */
  keys: string[];
  children: Node[];
}

type Node = Leaf | Inner;

interface Split {
  readonly separator: string;
  readonly right: Node;
}

/** Index of the first element >= key. */
function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first element > key: the child of an inner node that may hold key. */
function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function sizeOf(node: Node): number {
  return node.leaf ? node.keys.length : node.children.length;
}

/** An ordered set of strings (JavaScript string order) with O(log n) updates and ordered walks. */
export class SortedKeySet {
  private root: Node = { leaf: true, keys: [], next: null };
  private count = 0;
  private added = false;

  get size(): number {
    return this.count;
  }

  has(key: string): boolean {
    const leaf = this.leafFor(key);
    const keys = leaf.keys;
    return keys[lowerBound(keys, key)] === key;
  }

  /** Adds key; false when it was already present. */
  add(key: string): boolean {
    const split = this.insertInto(this.root, key);
    if (!this.added) return false;
    if (split !== undefined) this.root = { leaf: false, keys: [split.separator], children: [this.root, split.right] };
    this.count++;
    return true;
  }

  /** Removes key; false when it was absent. */
  delete(key: string): boolean {
    if (!this.removeFrom(this.root, key)) return false;
    this.count--;
    const root = this.root;
    if (!root.leaf && root.children.length === 1) this.root = root.children[0]!;
    return true;
  }

  /** Calls visit with every key >= start in order, until it returns false. */
  forEachFrom(start: string, visit: (key: string) => boolean | void): void {
    let leaf: Leaf | null = this.leafFor(start);
    let i = lowerBound(leaf.keys, start);
    while (leaf !== null) {
      const keys = leaf.keys;
      for (; i < keys.length; i++) if (visit(keys[i]!) === false) return;
      leaf = leaf.next;
      i = 0;
    }
  }

  /** Every key starting with prefix, in order. */
  withPrefix(prefix: string): string[] {
    const out: string[] = [];
    this.forEachFrom(prefix, (key) => {
      if (!key.startsWith(prefix)) return false;
      out.push(key);
    });
    return out;
  }

  clear(): void {
    this.root = { leaf: true, keys: [], next: null };
    this.count = 0;
  }

  private leafFor(key: string): Leaf {
    let node = this.root;
    while (!node.leaf) node = node.children[upperBound(node.keys, key)]!;
    return node;
  }

  private insertInto(node: Node, key: string): Split | undefined {
    if (node.leaf) {
      const i = lowerBound(node.keys, key);
      this.added = node.keys[i] !== key;
      if (!this.added) return undefined;
      node.keys.splice(i, 0, key);
      if (node.keys.length <= MAX) return undefined;
      const right: Leaf = { leaf: true, keys: node.keys.splice((MAX + 1) >> 1), next: node.next };
      node.next = right;
      return { separator: right.keys[0]!, right };
    }
    const i = upperBound(node.keys, key);
    const split = this.insertInto(node.children[i]!, key);
    if (split === undefined) return undefined;
    node.keys.splice(i, 0, split.separator);
    node.children.splice(i + 1, 0, split.right);
    if (node.children.length <= MAX) return undefined;
    // Left keeps children [0, h) and keys [0, h-1); keys[h-1] moves up; the right half takes the rest.
    const h = node.children.length >> 1;
    const children = node.children.splice(h);
    const keys = node.keys.splice(h);
    const separator = node.keys.pop()!;
    return { separator, right: { leaf: false, keys, children } };
  }

  private removeFrom(node: Node, key: string): boolean {
    if (node.leaf) {
      const i = lowerBound(node.keys, key);
      if (node.keys[i] !== key) return false;
      node.keys.splice(i, 1);
      return true;
    }
    const i = upperBound(node.keys, key);
    const child = node.children[i]!;
    if (!this.removeFrom(child, key)) return false;
    if (sizeOf(child) < MIN) this.rebalance(node, i);
    // Separators may still name a deleted key; they remain valid bounds, so they are left alone.
    return true;
  }

  /** Brings parent.children[i] back to MIN by borrowing from a sibling, or merges it with one. */
  private rebalance(parent: Inner, i: number): void {
    const child = parent.children[i]!;
    const left = i > 0 ? parent.children[i - 1]! : undefined;
    const right = parent.children[i + 1];
    if (left !== undefined && sizeOf(left) > MIN) {
      if (child.leaf && left.leaf) {
        child.keys.unshift(left.keys.pop()!);
        parent.keys[i - 1] = child.keys[0]!;
      } else if (!child.leaf && !left.leaf) {
        child.children.unshift(left.children.pop()!);
        child.keys.unshift(parent.keys[i - 1]!);
        parent.keys[i - 1] = left.keys.pop()!;
      }
    } else if (right !== undefined && sizeOf(right) > MIN) {
      if (child.leaf && right.leaf) {
        child.keys.push(right.keys.shift()!);
        parent.keys[i] = right.keys[0]!;
      } else if (!child.leaf && !right.leaf) {
        child.children.push(right.children.shift()!);
        child.keys.push(parent.keys[i]!);
        parent.keys[i] = right.keys.shift()!;
      }
    } else if (left !== undefined) {
      this.merge(parent, i - 1);
    } else if (right !== undefined) {
      this.merge(parent, i);
    }
  }

  /** Merges parent.children[j + 1] into parent.children[j]. */
  private merge(parent: Inner, j: number): void {
    const left = parent.children[j]!;
    const right = parent.children[j + 1]!;
    if (left.leaf && right.leaf) {
      for (const key of right.keys) left.keys.push(key);
      left.next = right.next;
    } else if (!left.leaf && !right.leaf) {
      left.keys.push(parent.keys[j]!);
      for (const key of right.keys) left.keys.push(key);
      for (const child of right.children) left.children.push(child);
    }
    parent.keys.splice(j, 1);
    parent.children.splice(j + 1, 1);
  }

  /** Throws when the tree's shape or order is broken. For tests. */
  checkInvariants(): void {
    let leafDepth = -1;
    let counted = 0;
    const leaves: Leaf[] = [];
    const walk = (node: Node, depth: number, low: string | undefined, high: string | undefined): void => {
      const isRoot = node === this.root;
      if (node.leaf) {
        if (leafDepth === -1) leafDepth = depth;
        if (depth !== leafDepth) throw new Error("leaves at different depths");
        if (!isRoot && node.keys.length < MIN) throw new Error(`leaf underflow: ${node.keys.length}`);
        if (node.keys.length > MAX) throw new Error(`leaf overflow: ${node.keys.length}`);
        for (let i = 0; i < node.keys.length; i++) {
          const key = node.keys[i]!;
          if (i > 0 && !(node.keys[i - 1]! < key)) throw new Error("leaf keys out of order");
          if (low !== undefined && key < low) throw new Error("key below its separator");
          if (high !== undefined && key >= high) throw new Error("key at or above the next separator");
        }
        counted += node.keys.length;
        leaves.push(node);
        return;
      }
      if (node.keys.length !== node.children.length - 1) throw new Error("inner keys/children mismatch");
      if (node.children.length < (isRoot ? 2 : MIN)) throw new Error(`inner underflow: ${node.children.length}`);
      if (node.children.length > MAX) throw new Error(`inner overflow: ${node.children.length}`);
      for (let i = 0; i < node.children.length; i++) {
        walk(node.children[i]!, depth + 1, i === 0 ? low : node.keys[i - 1], i === node.keys.length ? high : node.keys[i]);
      }
    };
    walk(this.root, 0, undefined, undefined);
    if (counted !== this.count) throw new Error(`size ${this.count} but ${counted} keys`);
    for (let i = 0; i < leaves.length; i++) {
      if (leaves[i]!.next !== (leaves[i + 1] ?? null)) throw new Error("leaf chain broken");
    }
  }
}

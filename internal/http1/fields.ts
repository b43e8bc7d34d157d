// The header fields of one HTTP/1.1 message, kept the way the proxy uses them: a flat array of
// name, value, name, value... in wire order, names lower-cased. A proxy reads a handful of fields
// and passes the rest on untouched, so a list it scans beats a map it would have to build (Fetch's
// Headers costs a native object and a copy per hop, and merges repeated fields).

/** Read and write access to header fields by lower-case name; Fetch's Headers has the same shape. */
export interface HeaderAccess {
  get(name: string): string | null;
  set(name: string, value: string): void;
}

// A field value written by code (not parsed): no control characters (CR and LF above all, which
// would let a value end the field and start another) and one byte per character.
const VALID_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const VALID_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

function check(name: string, value: string): void {
  if (!VALID_NAME.test(name)) throw new TypeError(`invalid header field name ${JSON.stringify(name)} (lower-case token characters only)`);
  if (!VALID_VALUE.test(value)) throw new TypeError(`invalid value for header field ${name}: control characters or characters beyond latin1`);
}

/**
 * Header fields in wire order. Every name given to a method must be lower-case (the parser
 * lower-cases what it reads; names written in code are literals). Values are kept as they came,
 * leading and trailing whitespace removed.
 */
export class Fields implements HeaderAccess, Iterable<[string, string]> {
  /** name, value, name, value... */
  readonly list: string[];

  constructor(list: string[] = []) {
    this.list = list;
  }

  /** Builds from [name, value] pairs or a record (names lower-cased here). */
  static from(init: Iterable<readonly [string, string]> | Record<string, string>): Fields {
    const list: string[] = [];
    const pairs = Symbol.iterator in init ? (init as Iterable<readonly [string, string]>) : Object.entries(init);
    const fields = new Fields(list);
    for (const [name, value] of pairs) fields.append(name.toLowerCase(), value);
    return fields;
  }

  /** The value of `name`; repeated fields are joined with ", " as RFC 9110 §5.3 allows (not for set-cookie, which nobody here reads). */
  get(name: string): string | null {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === name) {
        let value = list[i + 1]!;
        for (let j = i + 2; j < list.length; j += 2) if (list[j] === name) value += `, ${list[j + 1]!}`;
        return value;
      }
    }
    return null;
  }

  /** The first value of `name`, without looking for repeats. */
  first(name: string): string | undefined {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) return list[i + 1];
    return undefined;
  }

  has(name: string): boolean {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
    return false;
  }

  /** Replaces every field called `name` with one, at the place of the first (or at the end). Throws TypeError for an invalid name or value. */
  set(name: string, value: string): void {
    check(name, value);
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === name) {
        list[i + 1] = value;
        for (let j = list.length - 2; j > i; j -= 2) if (list[j] === name) list.splice(j, 2);
        return;
      }
    }
    list.push(name, value);
  }

  /** Adds a field after the others. Throws TypeError for an invalid name or value. */
  append(name: string, value: string): void {
    check(name, value);
    this.list.push(name, value);
  }

  /** Removes every field called `name`; answers whether there was one. */
  delete(name: string): boolean {
    const list = this.list;
    let found = false;
    for (let i = list.length - 2; i >= 0; i -= 2) {
      if (list[i] === name) {
        list.splice(i, 2);
        found = true;
      }
    }
    return found;
  }

  /** The number of fields (a repeated name counts each time). */
  get size(): number {
    return this.list.length >> 1;
  }

  *[Symbol.iterator](): Iterator<[string, string]> {
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) yield [list[i]!, list[i + 1]!];
  }

  /** A copy (the list, not the strings). */
  clone(): Fields {
    return new Fields(this.list.slice());
  }

  /** As a Fetch Headers (set-cookie kept apart, as Headers does), for code at the edge that wants one. */
  toHeaders(): Headers {
    const headers = new Headers();
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) headers.append(list[i]!, list[i + 1]!);
    return headers;
  }

  /** From a Fetch Headers: names come lower-cased; every set-cookie stays its own field. */
  static fromHeaders(headers: Headers): Fields {
    const list: string[] = [];
    for (const [name, value] of headers) {
      if (name === "set-cookie") continue;
      list.push(name, value);
    }
    for (const cookie of headers.getSetCookie()) list.push("set-cookie", cookie);
    return new Fields(list);
  }
}

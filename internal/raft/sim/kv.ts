// The replicated state machine of the simulation: a key-value map with put, compare-and-set and
// delete, plus a session table that makes a command applied twice (a duplicated proposal) take
// effect once.

import type { KvInput, KvOutput } from "./history.ts";

export interface Command {
  readonly clientId: number;
  readonly seq: number;
  readonly input: KvInput;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeCommand(c: Command): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export function decodeCommand(data: Uint8Array): Command {
  return JSON.parse(dec.decode(data)) as Command;
}

export class KvStore {
  private data = new Map<string, string>();
  private sessions = new Map<number, { seq: number; output: KvOutput }>();

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  /** Applies a command once per (clientId, seq); a repeat returns the first outcome. */
  apply(c: Command): KvOutput {
    const s = this.sessions.get(c.clientId);
    if (s !== undefined && c.seq <= s.seq) return s.output;
    let output: KvOutput;
    const i = c.input;
    switch (i.kind) {
      case "put":
        this.data.set(i.key, i.value);
        output = {};
        break;
      case "delete":
        this.data.delete(i.key);
        output = {};
        break;
      case "cas": {
        const ok = (this.data.get(i.key) ?? null) === i.expected;
        if (ok) this.data.set(i.key, i.value);
        output = { ok };
        break;
      }
      case "get":
        output = { value: this.get(i.key) };
        break;
    }
    this.sessions.set(c.clientId, { seq: c.seq, output });
    return output;
  }

  /** Canonical serialization (sorted), so equal states give equal bytes. */
  snapshot(): Uint8Array {
    const data = [...this.data.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    const sessions = [...this.sessions.entries()].sort((a, b) => a[0] - b[0]);
    return enc.encode(JSON.stringify({ data, sessions }));
  }

  restore(bytes: Uint8Array): void {
    const parsed = JSON.parse(dec.decode(bytes)) as {
      data: [string, string][];
      sessions: [number, { seq: number; output: KvOutput }][];
    };
    this.data = new Map(parsed.data);
    this.sessions = new Map(parsed.sessions);
  }
}

// A Jepsen-style client workload against the config API: concurrent clients doing get, put and
// compare-and-set on a few keys, recording every call as an operation for the linearizability
// checker. A write whose answer never came (timeout, connection cut, 5xx) is recorded as
// unknown: it may or may not have taken effect. A failed read is left out: it changed nothing.
import { authHeaders } from "./cluster.ts";

export { seededRandom } from "../../internal/testing/seeded-random.ts";

export type KvInput =
  | { kind: "get"; key: string }
  | { kind: "put"; key: string; value: string }
  | { kind: "cas"; key: string; expected: string | null; value: string };
export type KvOutput = { value: string | null } | { ok: boolean } | Record<string, never>;

export interface KvOperation {
  clientId: number;
  input: KvInput;
  call: number;
  output: KvOutput | undefined;
  return: number;
}

export interface WorkloadOptions {
  /** Member URLs; client i starts with member i mod n and moves on after a failure. */
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: readonly string[];
  readonly durationMs: number;
  readonly requestTimeoutMs: number;
  /** Seeded choice of operations, so a failing run can be told apart from a flaky one. */
  readonly random: () => number;
}

export interface WorkloadResult {
  readonly history: KvOperation[];
  /** Every value whose put (or successful compare-and-set) was acknowledged, per key. */
  readonly acknowledged: Map<string, Set<string>>;
  readonly counts: Record<string, number>;
}

export async function runKvWorkload(options: WorkloadOptions): Promise<WorkloadResult> {
  const history: KvOperation[] = [];
  const acknowledged = new Map<string, Set<string>>(options.keys.map((key) => [key, new Set<string>()]));
  const counts: Record<string, number> = { ok: 0, unknown: 0, failedReads: 0 };
  const started = performance.now();
  const now = () => performance.now() - started;
  const deadline = started + options.durationMs;

  async function request(endpoint: string, method: string, key: string, body?: string, headers: Record<string, string> = {}) {
    return fetch(`${endpoint}/v1/config/jepsen/${key}`, {
      method,
      headers: authHeaders({ ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers }),
      ...(body !== undefined ? { body } : {}),
      signal: AbortSignal.timeout(options.requestTimeoutMs),
    });
  }

  async function client(clientId: number): Promise<void> {
    let endpointIndex = clientId % options.endpoints.length;
    let counter = 0;
    const rotate = () => {
      endpointIndex = (endpointIndex + 1) % options.endpoints.length;
    };
    while (performance.now() < deadline) {
      const endpoint = options.endpoints[endpointIndex]!;
      const key = options.keys[Math.floor(options.random() * options.keys.length)]!;
      const roll = options.random();

      // A get, on its own or as the first half of a compare-and-set.
      const read = async (): Promise<{ value: string | null; modRevision: number } | undefined> => {
        const call = now();
        try {
          const response = await request(endpoint, "GET", key);
          if (response.status === 404) {
            await response.body?.cancel();
            history.push({ clientId, input: { kind: "get", key }, call, output: { value: null }, return: now() });
            return { value: null, modRevision: 0 };
          }
          if (!response.ok) throw new Error(`status ${response.status}`);
          const body = (await response.json()) as { value: string; modRevision: number };
          history.push({ clientId, input: { kind: "get", key }, call, output: { value: body.value }, return: now() });
          counts.ok!++;
          return { value: body.value, modRevision: body.modRevision };
        } catch {
          counts.failedReads!++;
          rotate();
          return undefined;
        }
      };

      if (roll < 0.4) {
        await read();
        continue;
      }
      const value = `c${clientId}-${++counter}`;
      if (roll < 0.8) {
        const op: KvOperation = { clientId, input: { kind: "put", key, value }, call: now(), output: undefined, return: Infinity };
        history.push(op);
        try {
          const response = await request(endpoint, "PUT", key, JSON.stringify(value));
          await response.body?.cancel();
          if (response.ok) {
            op.output = {};
            op.return = now();
            acknowledged.get(key)!.add(value);
            counts.ok!++;
            continue;
          }
        } catch {}
        counts.unknown!++;
        rotate();
        continue;
      }
      const seen = await read();
      if (!seen) continue;
      const op: KvOperation = {
        clientId,
        input: { kind: "cas", key, expected: seen.value, value },
        call: now(),
        output: undefined,
        return: Infinity,
      };
      history.push(op);
      try {
        const response = await request(endpoint, "PUT", key, JSON.stringify(value), { "if-match": String(seen.modRevision) });
        await response.body?.cancel();
        if (response.ok || response.status === 412) {
          op.output = { ok: response.ok };
          op.return = now();
          if (response.ok) acknowledged.get(key)!.add(value);
          counts.ok!++;
          continue;
        }
      } catch {}
      counts.unknown!++;
      rotate();
    }
  }

  await Promise.all(Array.from({ length: options.clients }, (_, i) => client(i)));
  return { history, acknowledged, counts };
}

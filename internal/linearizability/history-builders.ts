// Terse constructors for hand-written key-value histories in tests: `put(1, 0, 10, "a")` is client
// 1 writing "a" to key "x" between t=0 and t=10. Unknown outcomes use `return: Infinity`.

import type { KvOperation } from "./kv-model.ts";

const unknown = (ret: number | undefined) => ret === undefined;

export function get(client: number, call: number, ret: number, value: string | null, key = "x"): KvOperation {
  return { clientId: client, input: { kind: "get", key }, call, output: { value }, return: ret };
}

export function put(client: number, call: number, ret: number | undefined, value: string, key = "x"): KvOperation {
  return { clientId: client, input: { kind: "put", key, value }, call, output: unknown(ret) ? undefined : {}, return: ret ?? Infinity };
}

export function cas(
  client: number,
  call: number,
  ret: number | undefined,
  expected: string | null,
  value: string,
  ok: boolean | undefined,
  key = "x",
): KvOperation {
  return {
    clientId: client,
    input: { kind: "cas", key, expected, value },
    call,
    output: ok === undefined ? undefined : { ok },
    return: ok === undefined ? Infinity : (ret ?? Infinity),
  };
}

export function del(client: number, call: number, ret: number | undefined, key = "x"): KvOperation {
  return { clientId: client, input: { kind: "delete", key }, call, output: unknown(ret) ? undefined : {}, return: ret ?? Infinity };
}

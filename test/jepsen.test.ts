// Jepsen-style check of the integrated store as real processes: concurrent clients do get, put
// and compare-and-set on a few keys through the HTTP API while a nemesis kills members with
// SIGKILL and restarts them, and freezes them with SIGSTOP and resumes them. The history must be
// linearizable, and no acknowledged write may be missing afterwards.
//
// Replay a run with NAGENT_JEPSEN_SEED=<seed> (printed on failure).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { checkOperations, describeIllegal, kvModel, type Operation } from "../internal/linearizability/index.ts";
import { authHeaders, startCluster, type Cluster } from "./support/cluster.ts";
import { runKvWorkload, seededRandom, type KvInput, type KvOutput } from "./support/kv-workload.ts";

const seed = Number(process.env.NAGENT_JEPSEN_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KEYS = ["a", "b", "c"];
let cluster: Cluster;

beforeAll(async () => {
  // Every revision stays readable, so that each acknowledged write can be looked for afterwards.
  cluster = await startCluster({ size: 3, extraArgs: ["--history-revisions", "1000000000"] });
  await cluster.waitForLeader();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
}, 30_000);

/** Kills, restarts, freezes and resumes members at random for `durationMs`, one fault at a time. */
async function nemesis(random: () => number, durationMs: number, log: string[]): Promise<void> {
  const end = Date.now() + durationMs;
  while (Date.now() < end) {
    await Bun.sleep(300 + random() * 700);
    const member = cluster.members[Math.floor(random() * cluster.members.length)]!;
    if (random() < 0.5) {
      log.push(`kill -9 ${member.id}`);
      await cluster.kill(member);
      await Bun.sleep(200 + random() * 1200);
      log.push(`restart ${member.id}`);
      await cluster.start(member);
    } else {
      log.push(`SIGSTOP ${member.id}`);
      cluster.pause(member);
      await Bun.sleep(200 + random() * 1500);
      log.push(`SIGCONT ${member.id}`);
      cluster.resume(member);
    }
  }
}

test(
  `linearizable under kill -9, restarts, SIGSTOP and SIGCONT (seed ${seed})`,
  async () => {
    const random = seededRandom(seed);
    const faults: string[] = [];
    const [result] = await Promise.all([
      runKvWorkload({
        endpoints: cluster.members.map((m) => m.url),
        clients: 8,
        keys: KEYS,
        durationMs: 12_000,
        requestTimeoutMs: 1_500,
        random,
      }),
      nemesis(seededRandom(seed ^ 0x5eed), 10_000, faults),
    ]);
    const replay = `NAGENT_JEPSEN_SEED=${seed} bun test test/jepsen.test.ts`;
    const context = `seed ${seed}; faults: ${faults.join(", ")}; counts ${JSON.stringify(result.counts)}; replay: ${replay}`;

    // The run must have done real work on both sides of the faults.
    expect(result.counts.ok ?? 0, context).toBeGreaterThan(200);

    const history = result.history as unknown as Operation<KvInput, KvOutput>[];
    const verdict = checkOperations(kvModel, history as never, { timeoutMs: 60_000 });
    if (verdict.result !== "ok") console.error(`${context}\n${verdict.result === "illegal" ? describeIllegal(verdict as never) : "checker ran out of time"}`);
    expect(verdict.result, context).toBe("ok");
    console.log(`jepsen: ${history.length} operations checked linearizable; ${context}`);

    // The checker is alive: the same history with one read doctored to a value nobody wrote is refused.
    const doctored = history.map((op) => ({ ...op }));
    const read = doctored.findLast((op) => op.input.kind === "get" && op.output !== undefined)!;
    read.output = { value: "never-written" };
    expect(checkOperations(kvModel, doctored as never, { timeoutMs: 60_000 }).result).toBe("illegal");

    // Heal, then every acknowledged write must be in each key's history on every member.
    for (const member of cluster.members) {
      cluster.resume(member);
      if (!member.process) await cluster.start(member);
    }
    await cluster.waitForLeader();
    for (const member of cluster.members) {
      for (const key of KEYS) {
        let values: Set<string> | undefined;
        const deadline = Date.now() + 20_000;
        while (!values) {
          try {
            const response = await fetch(`${member.url}/v1/config/jepsen/${key}/history`, { headers: authHeaders(), signal: AbortSignal.timeout(2_000) });
            if (response.ok) {
              const body = (await response.json()) as { history: { type: string; value?: string }[] };
              values = new Set(body.history.filter((h) => h.type === "put").map((h) => h.value!));
            }
          } catch {}
          if (!values) {
            if (Date.now() > deadline) throw new Error(`${member.id} did not answer the history of ${key}; ${context}`);
            await Bun.sleep(200);
          }
        }
        const missing = [...result.acknowledged.get(key)!].filter((value) => !values!.has(value));
        expect(missing, `${member.id} lost acknowledged writes to ${key}; ${context}`).toEqual([]);
      }
    }
  },
  120_000,
);

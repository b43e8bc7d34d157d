// One client process of scripts/bench/watch.ts: opens its share of the watchers (Nagent SSE
// streams or etcd watchers), timestamps every event it receives, and answers the parent over IPC.
// Not meant to be run by hand; the parent starts it with BUN_CONFIG_MAX_HTTP_REQUESTS raised,
// because Bun's fetch otherwise keeps at most 256 requests (here: open streams) per process.
import { Etcd3, type IKeyValue } from "etcd3";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { SseReader } from "../../internal/controlplane/sse-reader.ts";
import { clock, type ChildMessage, type ClientRecord, type ParentMessage, type WatchAssignment } from "./watch-protocol.ts";

/** A stream is expected to stay open for the whole run; this only bounds SseReader's wait. */
const STREAM_IDLE_LIMIT_MS = 3_600_000;
/** Opening a stream may meet a member still resolving its credential (503): retry this long. */
const OPEN_RETRY_MS = 30_000;
/** Opening every stream at once would flood three single-threaded members; this many at a time. */
const OPEN_CONCURRENCY = 64;

const clients: ClientRecord[] = [];
const problems: string[] = [];
const etcdInstances: Etcd3[] = [];
// A stalled client process would make the servers look slow: the parent reports this lag.
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

function reply(message: ChildMessage): void {
  process.send!(message);
}

function problem(client: number, what: string): void {
  problems.push(`${new Date().toISOString()} client ${client}: ${what}`);
}

function record(client: ClientRecord, revision: number, at: number): void {
  client.revisions.push(revision);
  client.arrivals.push(at);
}

async function openSse(url: string, assignment: WatchAssignment, index: number): Promise<SseReader | undefined> {
  const deadline = Date.now() + OPEN_RETRY_MS;
  const target = `${url}/v1/watch?prefix=${encodeURIComponent(assignment.prefix)}`;
  for (;;) {
    let failure: string;
    try {
      const response = await fetch(target, { headers: { authorization: `Bearer ${assignment.token}` } });
      if (response.ok && response.body) return new SseReader(response.body);
      failure = `status ${response.status}: ${await response.text()}`;
    } catch (error) {
      failure = (error as Error).message;
    }
    if (Date.now() >= deadline) {
      problem(index, `could not open ${target}: ${failure}`);
      return undefined;
    }
    await Bun.sleep(200);
  }
}

/** Reads one SSE stream until it ends; everything but `ready`, `put` and keepalives is a problem. */
async function readSse(events: SseReader, client: ClientRecord, index: number, opened: () => void): Promise<void> {
  for (;;) {
    const event = await events.next(STREAM_IDLE_LIMIT_MS);
    const at = clock();
    if (event === undefined) return problem(index, "the stream ended");
    if (event.event === "put") {
      record(client, (JSON.parse(event.data) as { revision: number }).revision, at);
    } else if (event.event === "ready") {
      client.ready = true;
      opened();
    } else {
      problem(index, `unexpected event ${event.event}: ${event.data}`);
    }
  }
}

async function startNagent(assignment: WatchAssignment): Promise<void> {
  const indices = Array.from({ length: assignment.count }, (_, k) => assignment.first + k);
  let nextToOpen = 0;
  // A small pool of openers: each opens a stream, waits for its `ready`, then takes the next.
  const opener = async () => {
    while (nextToOpen < indices.length) {
      const index = indices[nextToOpen++]!;
      const member = index % assignment.endpoints.length;
      const client: ClientRecord = { member, ready: false, revisions: [], arrivals: [] };
      clients.push(client);
      const events = await openSse(assignment.endpoints[member]!, assignment, index);
      if (!events) continue;
      await new Promise<void>((opened) => {
        readSse(events, client, index, opened).then(opened, (error: unknown) => {
          problem(index, `stream failed: ${(error as Error).message}`);
          opened();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, indices.length) }, opener));
}

/**
 * etcd3 multiplexes every watcher of one Etcd3 instance over a single gRPC stream, and grpc-js
 * shares one connection per target across instances unless each has a local subchannel pool.
 * So: per member, one instance (own connection) for every `watchersPerEtcdClient` watchers.
 */
async function startEtcd(assignment: WatchAssignment): Promise<void> {
  const byMember = new Map<number, number[]>();
  for (let index = assignment.first; index < assignment.first + assignment.count; index++) {
    const member = index % assignment.endpoints.length;
    byMember.set(member, [...(byMember.get(member) ?? []), index]);
  }
  const creations: Promise<void>[] = [];
  for (const [member, indices] of byMember) {
    for (let start = 0; start < indices.length; start += assignment.watchersPerEtcdClient) {
      const etcd = new Etcd3({
        hosts: assignment.endpoints[member]!,
        dialTimeout: 5000,
        grpcOptions: { "grpc.use_local_subchannel_pool": 1 },
      });
      etcdInstances.push(etcd);
      for (const index of indices.slice(start, start + assignment.watchersPerEtcdClient)) {
        creations.push(watchEtcd(etcd, assignment, member, index));
      }
    }
  }
  await Promise.all(creations);
}

async function watchEtcd(etcd: Etcd3, assignment: WatchAssignment, member: number, index: number): Promise<void> {
  const client: ClientRecord = { member, ready: false, revisions: [], arrivals: [] };
  clients.push(client);
  try {
    const watcher = await etcd.watch().prefix(assignment.prefix).create();
    watcher.on("put", (kv: IKeyValue) => record(client, Number(kv.mod_revision), clock()));
    watcher.on("delete", () => problem(index, "unexpected delete event"));
    watcher.on("disconnected", (error) => problem(index, `watcher disconnected: ${error.message}`));
    watcher.on("error", (error) => problem(index, `watcher failed: ${error.message}`));
    client.ready = true;
  } catch (error) {
    problem(index, `could not create the watcher: ${(error as Error).message}`);
  }
}

function delivered(): number {
  let total = 0;
  for (const client of clients) total += client.revisions.length;
  return total;
}

async function handle(message: ParentMessage): Promise<void> {
  switch (message.type) {
    case "start":
      await (message.assignment.kind === "nagent" ? startNagent(message.assignment) : startEtcd(message.assignment));
      return reply({ id: message.id, type: "start" });
    case "clock":
      return reply({ id: message.id, type: "clock", receivedAt: clock() });
    case "lag": {
      const maxMs = lag.max / 1e6;
      lag.reset();
      return reply({ id: message.id, type: "lag", maxMs });
    }
    case "progress":
      return reply({
        id: message.id,
        type: "progress",
        ready: clients.filter((c) => c.ready).length,
        delivered: delivered(),
        problems: problems.length,
      });
    case "report":
      return reply({ id: message.id, type: "report", clients, problems, etcdClients: etcdInstances.length });
  }
}

process.on("message", (message: ParentMessage) => void handle(message));
// The parent stops this process with a signal; if the parent dies instead, the IPC channel closes.
process.on("disconnect", () => process.exit(0));

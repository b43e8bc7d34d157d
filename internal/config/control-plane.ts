import { hostname } from "node:os";
import { z } from "zod";
import { boolean, duration, integer, listenAddress, nodeId, oneOf, peerList, text, urlList } from "./fields.ts";
import type { CommandSpec, ConfigOf } from "./load.ts";
import { daemonOptions } from "./shared-options.ts";

const controlPlaneOptions = {
  nodeId: {
    flag: "node-id",
    env: "NODE_ID",
    placeholder: "ID",
    description: "This member's id; with --peers it must be one of the listed ids.",
    defaultText: "the host name",
    schema: nodeId().default(() => hostname()),
  },
  listen: {
    flag: "listen",
    env: "NAGENT_LISTEN",
    placeholder: "HOST:PORT",
    description: "Address of the HTTP API; member-to-member traffic uses the same port.",
    defaultText: "0.0.0.0:8080",
    schema: listenAddress().default({ host: "0.0.0.0", port: 8080 }),
  },
  peers: {
    flag: "peers",
    env: "CLUSTER_PEERS",
    placeholder: "ID=URL,...",
    description: "Every member's advertised URL, this one's included. A bare ID means http://ID:8080. None: a one-member cluster.",
    defaultText: "none",
    schema: peerList().default([]),
  },
  dataDir: {
    flag: "data-dir",
    env: "NAGENT_DATA_DIR",
    placeholder: "DIR",
    description: "Where the integrated store keeps its write-ahead log and snapshots.",
    defaultText: "./nagent-data",
    schema: text().default("./nagent-data"),
  },
  store: {
    flag: "store",
    env: "NAGENT_STORE",
    placeholder: "KIND",
    description: "raft: the integrated store in --data-dir; etcd: an existing etcd cluster at --etcd-endpoints.",
    defaultText: "raft",
    schema: oneOf(["raft", "etcd"] as const).default("raft"),
  },
  etcdEndpoints: {
    flag: "etcd-endpoints",
    env: "ETCD_ENDPOINTS",
    placeholder: "URL,...",
    description: "etcd client URLs, used with --store etcd.",
    defaultText: "none",
    schema: urlList().default([]),
  },
  join: {
    flag: "join",
    env: "NAGENT_JOIN",
    boolean: true,
    description: "Start empty and wait to be added to a running cluster (POST /v1/cluster/members), instead of founding one.",
    defaultText: "false",
    schema: boolean().default(false),
  },
  forceNewCluster: {
    flag: "force-new-cluster",
    env: "NAGENT_FORCE_NEW_CLUSTER",
    boolean: true,
    description:
      "Disaster recovery after a lost quorum: restart this member from its existing --data-dir as the only voter of a new one-member cluster, keeping every entry of its log. Never use it while the old majority can come back.",
    defaultText: "false",
    schema: boolean().default(false),
  },
  clusterToken: {
    flag: "cluster-token",
    env: "NAGENT_CLUSTER_TOKEN",
    placeholder: "NAME",
    description: "Names the cluster; members with another token refuse each other's messages.",
    defaultText: "nagent",
    schema: text().default("nagent"),
  },
  peerToken: {
    flag: "peer-token",
    env: "NAGENT_PEER_TOKEN",
    placeholder: "SECRET",
    description: "Shared secret every member-to-member request must carry. Unset: members are told apart by id only.",
    defaultText: "none",
    schema: z.string().min(16, { error: "expected at least 16 characters" }).optional(),
  },
  heartbeatInterval: {
    flag: "heartbeat-interval",
    env: "NAGENT_HEARTBEAT_INTERVAL",
    placeholder: "DURATION",
    description: "How often the Raft leader heartbeats; also the Raft tick.",
    defaultText: "40ms",
    schema: duration().default(40),
  },
  electionTimeout: {
    flag: "election-timeout",
    env: "NAGENT_ELECTION_TIMEOUT",
    placeholder: "DURATION",
    description: "How long a follower waits without hearing from a leader before it campaigns (randomized up to twice this).",
    defaultText: "400ms",
    schema: duration().default(400),
  },
  snapshotEntries: {
    flag: "snapshot-entries",
    env: "NAGENT_SNAPSHOT_ENTRIES",
    placeholder: "N",
    description: "Take a snapshot of the integrated store and compact its log every N applied entries.",
    defaultText: "100000",
    schema: integer(10, 100_000_000).default(100_000),
  },
  historyRevisions: {
    flag: "history-revisions",
    env: "NAGENT_HISTORY_REVISIONS",
    placeholder: "N",
    description: "How many of the latest revisions stay readable through history and watch-from-revision; older ones are compacted.",
    defaultText: "10000",
    schema: integer(100, 1_000_000_000).default(10_000),
  },
  adminToken: {
    flag: "admin-token",
    env: "NAGENT_ADMIN_TOKEN",
    placeholder: "TOKEN",
    description: "The admin credential. Unset: one is generated at first start and written to the data dir (mode 0600).",
    defaultText: "generated",
    schema: z.string().min(16, { error: "expected at least 16 characters" }).optional(),
  },
  keyRotationInterval: {
    flag: "key-rotation-interval",
    env: "NAGENT_KEY_ROTATION_INTERVAL",
    placeholder: "DURATION",
    description: "Sign tokens with a new key this often; the previous key stays published until its tokens have expired.",
    defaultText: "24h",
    schema: duration().default(24 * 3_600_000),
  },
  maxTokenTtl: {
    flag: "max-token-ttl",
    env: "NAGENT_MAX_TOKEN_TTL",
    placeholder: "DURATION",
    description: "Longest lifetime of an issued JWT.",
    defaultText: "24h",
    schema: duration().default(24 * 3_600_000),
  },
  defaultTokenTtl: {
    flag: "default-token-ttl",
    env: "NAGENT_DEFAULT_TOKEN_TTL",
    placeholder: "DURATION",
    description: "Lifetime of an issued JWT or API key when the request names none.",
    defaultText: "1h",
    schema: duration().default(3_600_000),
  },
  maxApiKeyTtl: {
    flag: "max-api-key-ttl",
    env: "NAGENT_MAX_API_KEY_TTL",
    placeholder: "DURATION",
    description: "Longest lifetime of an issued opaque API key.",
    defaultText: "2160h (90 days)",
    schema: duration().default(90 * 24 * 3_600_000),
  },
  ...daemonOptions,
} as const;

export type ControlPlaneConfig = ConfigOf<typeof controlPlaneOptions>;

/** The control-plane binary's command line. */
export const controlPlaneCommand: CommandSpec<typeof controlPlaneOptions> = {
  name: "control-plane",
  summary: "a Nagent Mesh control-plane member (configuration, registry, policies, authentication)",
  options: controlPlaneOptions,
  check(config) {
    if (config.peers.length > 0 && !config.peers.some((peer) => peer.id === config.nodeId)) {
      return {
        flag: "node-id",
        reason: `"${config.nodeId}" is not among --peers (${config.peers.map((peer) => peer.id).join(", ")})`,
      };
    }
    if (config.heartbeatInterval < 1 || config.electionTimeout < config.heartbeatInterval * 3) {
      return { flag: "election-timeout", reason: "must be at least three heartbeat intervals (and the interval at least 1ms)" };
    }
    if (config.maxTokenTtl < 1000 || config.maxApiKeyTtl < 1000) {
      return { flag: "max-token-ttl", reason: "token lifetimes must be at least 1s" };
    }
    if (config.keyRotationInterval < 1000) {
      return { flag: "key-rotation-interval", reason: "must be at least 1s" };
    }
    if (config.forceNewCluster && config.store !== "raft") {
      return { flag: "force-new-cluster", reason: "applies to the integrated store only (--store raft); etcd has its own --force-new-cluster" };
    }
    if (config.forceNewCluster && config.join) {
      return { flag: "force-new-cluster", reason: "cannot be combined with --join: it recovers an existing member, --join starts an empty one" };
    }
    if (config.store === "etcd" && config.etcdEndpoints.length === 0) {
      return { flag: "etcd-endpoints", reason: "--store etcd needs at least one etcd endpoint" };
    }
    return undefined;
  },
};

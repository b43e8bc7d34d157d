#!/usr/bin/env bun
// control-plane: one member of the Nagent Mesh control plane.
import { exitWith, launchDaemon, parseOrExit } from "../../internal/cli/index.ts";
import { controlPlaneCommand } from "../../internal/config/index.ts";
import { createControlPlane, resolveAdminCredential, type AdminCredential, type ControlPlane } from "../../internal/controlplane/index.ts";
import { hasMemberState, openRaftStore, type RaftStore } from "../../internal/raftstore/index.ts";
import { createEtcdStore, type Store } from "../../internal/store/index.ts";

const { config } = parseOrExit(controlPlaneCommand);
if (config.forceNewCluster && !hasMemberState(config.dataDir)) {
  exitWith(
    2,
    "",
    `control-plane: --force-new-cluster: the data dir ${config.dataDir} holds no member state to recover (it needs the surviving member's existing --data-dir)\n`,
  );
}
let store: Store | undefined;
let raftStore: RaftStore | undefined;
let admin: AdminCredential | undefined;
let controlPlane: ControlPlane | undefined;

await launchDaemon({
  service: "control-plane",
  nodeId: config.nodeId,
  config,
  async listeners({ logger, metrics }) {
    const self = `http://${config.listen.host === "0.0.0.0" ? "127.0.0.1" : config.listen.host}:${config.listen.port}`;
    const raft =
      config.store === "raft"
        ? await openRaftStore({
            id: config.nodeId,
            peers: config.peers.length > 0 ? config.peers : [{ id: config.nodeId, url: self }],
            dataDir: config.dataDir,
            join: config.join,
            forceNewCluster: config.forceNewCluster,
            clusterToken: config.clusterToken,
            // A tick of a quarter heartbeat: election timeouts are drawn from 4x more distinct values,
            // so two followers rarely time out in the same tick and split the vote.
            tickMs: config.heartbeatInterval / 4,
            heartbeatTicks: 4,
            snapshotEntries: config.snapshotEntries,
            retainRevisions: config.historyRevisions,
            electionTicks: Math.round((4 * config.electionTimeout) / config.heartbeatInterval),
            ...(config.peerToken ? { peerToken: config.peerToken } : {}),
            logger,
            registry: metrics.registry,
          })
        : undefined;
    raftStore = raft;
    store = raft ?? createEtcdStore({ endpoints: config.etcdEndpoints });
    controlPlane = createControlPlane({
      store,
      admin: () => admin,
      auth: {
        keyRotationIntervalMs: config.keyRotationInterval,
        maxTokenTtlSeconds: Math.floor(config.maxTokenTtl / 1000),
        maxApiKeyTtlSeconds: Math.floor(config.maxApiKeyTtl / 1000),
        defaultTokenTtlSeconds: Math.floor(config.defaultTokenTtl / 1000),
      },
      logger,
      metrics,
      maxBodyBytes: config.maxBodyBytes,
    });
    void controlPlane.started.catch((error: unknown) => logger.error({ err: error }, "the authentication authority cannot start"));
    const api = controlPlane.daemon;
    raft?.mount(api.app);
    const resolving = resolveAdminCredential({ configured: config.adminToken, store, dataDir: config.dataDir, logger });
    void resolving.then(
      (credential) => {
        admin = credential;
      },
      (error: unknown) => logger.error({ err: error }, "cannot resolve the admin credential"),
    );
    return [{ name: "api", address: config.listen, daemon: api }];
  },
  onDrain: () => raftStore?.prepareToStop(),
  async onStop() {
    await controlPlane?.stop();
    await store?.close();
  },
});

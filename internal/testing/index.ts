// Test harness: real etcd and Redis on free loopback ports, bound to the test process's lifetime.
export { startEtcd, type EtcdOptions, type EtcdServer } from "./etcd.ts";
export { MissingExecutableError, requireExecutable } from "./executable.ts";
export { isProcessAlive, livePidsInGroup, livePidsMentioning } from "./liveness.ts";
export { freePort, freePortOffset, freePorts, portFree, retryOnPortClash } from "./ports.ts";
export {
  ServiceStartError,
  spawnService,
  waitUntilReady,
  type ReadinessOptions,
  type ServiceProcess,
  type SpawnServiceOptions,
} from "./process.ts";
export { startRedis, type RedisOptions, type RedisServer } from "./redis.ts";
export { seededRandom } from "./seeded-random.ts";
export { until } from "./until.ts";
export { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.ts";

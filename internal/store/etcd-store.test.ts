import { storeConformance } from "./conformance.ts";
import { createEtcdStore } from "./etcd-store.ts";
import { startEtcd } from "../testing/index.ts";

storeConformance("etcd (a real etcd started by the harness)", async () => {
  const etcd = await startEtcd();
  const store = createEtcdStore({ endpoints: [etcd.endpoint], prefix: "conformance/" });
  return {
    store,
    async cleanup() {
      await store.close();
      await etcd.stop();
    },
  };
});

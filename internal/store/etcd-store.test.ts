import { storeConformance } from "./conformance.ts";
import { openTestEtcdStore } from "../testing/stores.ts";

storeConformance("etcd (a real etcd started by the harness)", () => openTestEtcdStore("conformance/"));

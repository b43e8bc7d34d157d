import { storeConformance } from "../store/conformance.ts";
import { openTestRaftStore } from "../testing/stores.ts";

storeConformance("raft (one member, the integrated store)", openTestRaftStore);

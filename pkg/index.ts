// @nagent/mesh: the public SDK. Runs on Node.js 20+ and Bun; depends on nothing but the
// platform's fetch, AbortSignal, TextDecoder and URL.
export * from "./control-plane/index.ts";
export * from "./sidecar/index.ts";

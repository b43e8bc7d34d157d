export { createDaemonApp, type App, type AppEnv, type AppOptions, type DaemonApp } from "./app.ts";
export { startDaemon, exitOnSignals, ListenError, type Daemon, type DaemonOptions, type ListenerSpec, type RunningListener, type SocketHandlers } from "./daemon.ts";
export { HttpError, BadRequestError, errorBody, type ErrorBody } from "./errors.ts";
export { readJson, describeIssue } from "./json-body.ts";

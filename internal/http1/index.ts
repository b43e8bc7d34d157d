// HTTP/1.1 on Bun's raw sockets: the sidecar's server and client (see server.ts and client.ts for
// why they are written here rather than taken from Bun.serve and fetch).
export { BodyError, BodyTooLargeError, bodyLength, bytesSource, fromWebStream, limitBody, observeBody, readBody, toWebStream } from "./body.ts";
export type { Body, BodySink, BodySource } from "./body.ts";
export { ChunkedDecoder, ChunkedError, encodeChunk } from "./chunked.ts";
export { ClientError, HttpClient, originOf } from "./client.ts";
export type { CancelLink, Cancellation, ClientFailure, ClientOptions, ClientRequest, ClientResponse, Origin } from "./client.ts";
export { fromFetchResponse, serveFetch, toFetchResponse } from "./fetch-bridge.ts";
export type { FetchHandler } from "./fetch-bridge.ts";
export { Fields } from "./fields.ts";
export type { HeaderAccess } from "./fields.ts";
export { HeadError, parseRequestHead, parseResponseHead, reasonPhrase, responseFraming } from "./head.ts";
export type { Framing, RequestHead, ResponseHead } from "./head.ts";
export { listenHttp1 } from "./server.ts";
export type { Http1Server, HttpResponse, ServerHandler, ServerOptions, ServerRequest } from "./server.ts";

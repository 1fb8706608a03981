/**
 * The synchronous seam next to the event bus. Events describe what happened after the fact;
 * a few things cannot wait for the bus: the span that must be active while a handler runs (so
 * the tool's own spans nest under it), and the trace context written into an outgoing
 * message's `_meta`. A sink that needs them exposes `live` hooks; the middleware calls them on
 * the message path, guarded, and knows nothing of what they do.
 */
import type {
  ClientPlatform,
  RequestEvent,
  RequestRole,
  SchemaVersionCreatedEvent,
  TransportKind,
} from './events.js';

/** HTTP facts about the request that carried a message, when it came over HTTP. */
export interface HttpFacts {
  /** Request headers as the transport passed them (`extra.requestInfo.headers`). */
  readonly headers?: unknown;
  readonly method?: string;
  readonly path?: string;
  readonly clientAddress?: string;
  readonly clientPort?: number;
  /** `HTTP/1.1` → `1.1`, when known. */
  readonly protocolVersion?: string;
}

/** The server's address as the client side dials it. */
export interface ServerPeer {
  readonly address: string;
  readonly port: number;
}

/** What is known when a request or notification starts. */
export interface RequestStart {
  /** `server`: we received it; `client`: we are about to send it. */
  readonly role: RequestRole;
  /** The JSON-RPC message as received or as the host passed it to `send` (never mutate). */
  readonly message: Readonly<Record<string, unknown>>;
  readonly mcpMethod: string;
  readonly jsonrpcId: string | undefined;
  /** True for notifications: `end` follows at once. */
  readonly notification: boolean;
  readonly tool: string | undefined;
  readonly prompt: string | undefined;
  readonly resourceUri: string | undefined;
  readonly server: string;
  readonly sessionId: string | undefined;
  readonly transport: TransportKind;
  readonly protocolVersion: string | undefined;
  readonly clientName: string | undefined;
  readonly clientVersion: string | undefined;
  readonly clientPlatform: ClientPlatform | undefined;
  readonly http: HttpFacts | undefined;
  /** Where the server is, on the client side, when the transport knows (HTTP). */
  readonly serverPeer: ServerPeer | undefined;
  /** Unix time in milliseconds. */
  readonly ts: number;
}

/** Hooks a sink can offer for work that must happen on the message path. */
export interface LiveHooks<Token = unknown> {
  /** A request or notification starts. The token returned comes back to the other hooks. */
  start(info: RequestStart): Token | undefined;
  /** Runs the host's handler of a received message within the token's context. */
  run?<R>(token: Token, fn: () => R): R;
  /** Returns the message to send in place of `message` (e.g. a copy with `_meta` trace context). */
  inject?(token: Token, message: Readonly<Record<string, unknown>>): Record<string, unknown>;
  /** A `notifications/progress` for the request of `token`. */
  progress?(token: Token, params: Readonly<Record<string, unknown>>): void;
  /**
   * The request ended (for notifications: right after `start`). `event` is its `request`
   * event; when no sink on the bus takes `request` events it is never emitted, and then its
   * `id` is empty and its sizes unset (nothing else would read them).
   */
  end(token: Token, event: RequestEvent, detail: RequestEndDetail): void;
}

/** What the end of a request carries besides its event. */
export interface RequestEndDetail {
  /** The JSON-RPC response, when one ended the request (never mutate). */
  readonly response: Readonly<Record<string, unknown>> | undefined;
  /** The schema version its list result created, if any. */
  readonly schema: SchemaVersionCreatedEvent | undefined;
}

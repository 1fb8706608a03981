import type { IncomingMessage, ServerResponse } from 'node:http';
import { ProxySide } from './proxy-side.js';

type Message = Record<string, unknown>;

/**
 * What the proxy knows about the upstream exchange that carried the message being observed
 * through `send`. Read by the middleware while `send` runs (see the proposal in the proxy's
 * docs: `upstreamUs`, `httpStatus` and `note: 'upstream_error'` on the request event).
 */
export interface UpstreamFacts {
  /** Microseconds from forwarding the request to the upstream's response headers (JSON) or first event (SSE). */
  readonly upstreamUs: number | undefined;
  /** Status of the upstream's HTTP response that carried the message. */
  readonly httpStatus: number | undefined;
  /** No JSON-RPC answer came from the upstream: unreachable, an HTTP error, a redirect off its origin. */
  readonly failed: boolean;
}

/** Serves one HTTP request for a transport (the proxy's exchange logic). */
export type ExchangeHandler = (
  transport: HttpProxyTransport,
  request: IncomingMessage,
  response: ServerResponse,
) => Promise<void>;

/** Writes W3C trace context into a message forwarded upstream; the same object when there is none. */
export type ContextInjector = (message: Readonly<Message>) => Readonly<Message>;

/**
 * The client-facing side of one proxied MCP session, as an MCP Transport, so the one
 * middleware observes it exactly as it observes an SDK transport in a server: what the client
 * sends arrives through `onmessage` (role server: SERVER spans, trace context taken from
 * `_meta` or the HTTP headers in `extra.requestInfo`), what the upstream sends leaves through
 * `send` (responses end those spans; upstream→client requests are CLIENT spans). The bytes
 * themselves travel through the proxy's exchange logic; `send` only observes, and reports back
 * the message the middleware handed it (a copy with trace context, for upstream→client
 * requests). `handleRequest` is where the middleware learns the client's address and sees
 * DELETE (session end `deleted`).
 */
export abstract class HttpProxyTransport extends ProxySide {
  /** The upstream's `mcp-session-id`, once it assigned one. */
  sessionId: string | undefined;
  /** Set only while `send` observes a message from the upstream. */
  upstream: UpstreamFacts | undefined;
  private forwarding: unknown;
  private sent: unknown;

  constructor(
    private readonly exchange: ExchangeHandler,
    inject: ContextInjector | undefined,
    sessionId?: string,
  ) {
    super();
    this.sessionId = sessionId;
    // Installed before instrumentation, as a host's handler is: the middleware runs it inside
    // the request's live context, so the context injected here is that of the proxy's span.
    this.onmessage = (message) => {
      if (!inject || !isMessage(message) || typeof message.method !== 'string') return;
      try {
        this.forwarding = inject(message);
      } catch {
        this.forwarding = message;
      }
    };
  }

  /** Serves an HTTP request of this session (POST, GET or DELETE). */
  handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return this.exchange(this, request, response);
  }

  /** A message from the client: observed, then returned as it should be forwarded. */
  fromClient(message: Message, extra: unknown): unknown {
    this.forwarding = message;
    try {
      this.onmessage?.(message, extra);
      return this.forwarding;
    } finally {
      this.forwarding = undefined;
    }
  }

  /** A message from the upstream: observed, then returned as it should reach the client. */
  fromUpstream(message: Message, facts: UpstreamFacts | undefined): unknown {
    this.sent = message;
    this.upstream = facts;
    try {
      void this.send(message);
      return this.sent;
    } finally {
      this.sent = undefined;
      this.upstream = undefined;
    }
  }

  send(message: unknown): Promise<void> {
    this.sent = message;
    return Promise.resolve();
  }
}

/** A Streamable HTTP session (or one session-less exchange); reported as `streamable-http`. */
export class ProxyStreamableHTTPTransport extends HttpProxyTransport {}

/** A legacy HTTP+SSE session (GET stream + POST endpoint); reported as `sse`. */
export class SSEProxyTransport extends HttpProxyTransport {}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The request handling of `mcp-otel proxy`: which transport a request belongs to, and the
 * exchanges (POST, GET, DELETE) that carry bytes between the client and the upstream while the
 * transport shows every JSON-RPC message to the middleware.
 *
 * Sessions: one {@link ProxyStreamableHTTPTransport} per `mcp-session-id`. A POST without one
 * (initialize, or any request to a stateless server) gets a transport of its own; it becomes
 * the session's when the upstream answers with an `mcp-session-id`, and is closed when the
 * exchange ends otherwise, so a stateless server's requests never share correlation state
 * (two clients may both use id 1). Legacy HTTP+SSE: a GET without a session whose first event
 * is `endpoint` opens an {@link SSEProxyTransport}, found again by the endpoint's path and query
 * when the client POSTs there, and closed when the stream ends.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { instrumentTransport } from '../instrument.js';
import { reportError } from '../diagnostics.js';
import type { CliTelemetry } from './telemetry.js';
import {
  forwardedRequestHeaders,
  forwardedResponseHeaders,
  redirectsOffOrigin,
  upstreamUrlFor,
  UpstreamClient,
  type UpstreamCall,
} from './proxy-upstream.js';
import { rewriteEvent, SseSplitter, type SseChunk, type SseEvent } from './proxy-sse.js';
import {
  ProxyStreamableHTTPTransport,
  SSEProxyTransport,
  type ContextInjector,
  type HttpProxyTransport,
  type UpstreamFacts,
} from './proxy-transport.js';

/** Largest request body the proxy reads (the SDK's own limit): larger ones get 413. */
export const MAX_REQUEST_BODY_BYTES = 4 * 1024 * 1024;
/** Largest JSON response observed; larger ones pass through unobserved. */
export const MAX_OBSERVED_JSON_BYTES = 16 * 1024 * 1024;
/** Sessions remembered at once; the least recently used one is closed beyond this. */
export const MAX_PROXY_SESSIONS = 10_000;
/** JSON-RPC error code of the proxy's own errors (implementation-defined server error range). */
export const PROXY_ERROR_CODE = -32000;

type Message = Record<string, unknown>;
type JsonRpcId = string | number;

/** What the proxy's request handling needs. */
export interface ProxyServerOptions {
  readonly upstream: URL;
  readonly telemetry: CliTelemetry;
  /** Accept only requests whose Host is a loopback name (DNS rebinding). */
  readonly loopbackOnly: boolean;
}

/** What a POST carried, for answering it when the upstream does not. */
interface Outgoing {
  readonly requestIds: readonly JsonRpcId[];
  readonly batch: boolean;
}

/** Routes the proxy's HTTP requests to transports and runs their exchanges. */
export class ProxyServer {
  private readonly upstream: URL;
  private readonly client = new UpstreamClient();
  private readonly inject: ContextInjector | undefined;
  /** Streamable HTTP sessions by `mcp-session-id`, least recently used first. */
  private readonly sessions = new Map<string, ProxyStreamableHTTPTransport>();
  /** Legacy SSE sessions by endpoint path and query. */
  private readonly legacy = new Map<string, SSEProxyTransport>();
  /** Every open transport, sessions or not (closed with the proxy). */
  private readonly open = new Set<HttpProxyTransport>();
  private readonly calls = new Set<UpstreamCall>();
  private closing = false;
  /** The proxy's origin as clients reach it, when a request does not say (set after listen). */
  origin = 'http://127.0.0.1';

  constructor(private readonly options: ProxyServerOptions) {
    this.upstream = options.upstream;
    const otel = options.telemetry.otel;
    this.inject = otel ? (message) => otel.injectActiveContext(message) : undefined;
  }

  /** Open Streamable HTTP and legacy SSE sessions. */
  get sessionCount(): number {
    return this.sessions.size + this.legacy.size;
  }

  /** The `node:http` request listener. Never throws, never rejects. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req, res).catch((error: unknown) => {
      // A client that went away mid-request is not the proxy's trouble.
      if (!req.destroyed && !res.destroyed) reportError('proxy', error);
      if (!res.headersSent) {
        writeJson(res, 500, rpcError(null, `proxy error: ${errorText(error)}`));
      } else {
        res.destroy();
      }
    });
  };

  /** Closes every transport (pending requests end `closed`, sessions end) and upstream call. */
  close(): void {
    this.closing = true;
    for (const call of this.calls) call.abort();
    this.calls.clear();
    for (const transport of [...this.open]) void transport.close();
    this.open.clear();
    this.sessions.clear();
    this.legacy.clear();
    this.client.close();
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.closing) {
      writeJson(res, 503, rpcError(null, 'proxy is shutting down'));
      return;
    }
    if (this.options.loopbackOnly && !isLoopbackHost(req.headers.host)) {
      // A page on another site reaching 127.0.0.1 through DNS rebinding names its own host.
      writeJson(res, 403, rpcError(null, 'forbidden host'));
      return;
    }
    const method = req.method ?? 'GET';
    const target = new URL(req.url ?? '/', 'http://proxy.invalid');
    // The MCP endpoint is the upstream's path (and, for legacy SSE, the endpoints it handed
    // out); anything else (OAuth metadata, /token, /register) passes through unobserved.
    const mcp = target.pathname === this.upstream.pathname;
    const sessionId = headerValue(req.headers['mcp-session-id']);
    let transport: HttpProxyTransport | undefined =
      method === 'POST' ? this.legacy.get(target.pathname + target.search) : undefined;
    if (!transport && mcp && (method === 'POST' || method === 'GET' || method === 'DELETE')) {
      if (sessionId !== undefined) transport = this.sessionTransport(sessionId);
      else if (method === 'POST') transport = this.newStreamable(undefined);
    }
    if (transport) {
      await transport.handleRequest(req, res);
      return;
    }
    const body = await this.readBodyOr413(req, res);
    if (body === undefined) return;
    if (mcp && method === 'GET') await this.sessionlessGet(req, res, body);
    else await this.passThrough(req, res, body);
  }

  /** The exchange of a transport's `handleRequest`. */
  private readonly exchange = async (
    transport: HttpProxyTransport,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    try {
      const body = await this.readBodyOr413(req, res);
      if (body === undefined) return;
      let status: number | undefined;
      if (req.method === 'POST') status = await this.post(transport, req, res, body);
      else if (req.method === 'DELETE') status = await this.delete(transport, req, res, body);
      else status = await this.get(transport, req, res, body);
      if (status === 404 && req.headers['mcp-session-id'] !== undefined) {
        // The upstream no longer knows the session: the client must start another.
        this.dispose(transport);
      }
    } finally {
      // A session-less exchange's transport lives as long as the exchange.
      if (transport.sessionId === undefined && !(transport instanceof SSEProxyTransport)) {
        this.dispose(transport);
      }
    }
  };

  private async post(
    transport: HttpProxyTransport,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<number | undefined> {
    const { forward, outgoing } = this.observeClientBody(transport, req, body);
    const started = performance.now();
    const upstreamRes = await this.call(req, res, forward, outgoing, transport);
    if (!upstreamRes) return undefined;
    const headersUs = elapsedUs(started);
    const assigned = headerValue(upstreamRes.headers['mcp-session-id']);
    if (
      assigned !== undefined &&
      transport instanceof ProxyStreamableHTTPTransport &&
      transport.sessionId === undefined
    ) {
      transport.sessionId = assigned;
      this.remember(assigned, transport);
    }
    await this.relay(transport, req, res, upstreamRes, { started, headersUs, outgoing });
    return upstreamRes.statusCode;
  }

  private async get(
    transport: HttpProxyTransport,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<number | undefined> {
    const upstreamRes = await this.call(req, res, body, undefined, transport);
    if (!upstreamRes) return undefined;
    await this.relay(transport, req, res, upstreamRes, undefined);
    return upstreamRes.statusCode;
  }

  private async delete(
    transport: HttpProxyTransport,
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<number | undefined> {
    const upstreamRes = await this.call(req, res, body, undefined, transport);
    if (!upstreamRes) return undefined;
    const status = upstreamRes.statusCode ?? 0;
    // The session is over once the upstream agrees (405: the server keeps it); it ends before
    // the client hears so, like every other answer it observes.
    if (status >= 200 && status < 300) this.dispose(transport);
    await this.pipeRaw(req, res, upstreamRes);
    return status;
  }

  /** GET without a session: a legacy SSE stream, a stateless server's 405, or anything else. */
  private async sessionlessGet(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<void> {
    const upstreamRes = await this.call(req, res, body, undefined, undefined);
    if (!upstreamRes) return;
    if (!isEventStream(upstreamRes)) {
      await this.pipeRaw(req, res, upstreamRes);
      return;
    }
    // Which transport this stream belongs to is known from its first event.
    let transport: HttpProxyTransport | undefined;
    let endpointKey: string | undefined;
    const origin = this.clientOrigin(req);
    try {
      await this.streamEvents(req, res, upstreamRes, (event, raw) => {
        if (!transport) {
          if (event.type === 'endpoint' && event.data !== undefined) {
            const endpoint = resolveUrl(event.data, this.upstream);
            endpointKey = endpoint ? endpoint.pathname + endpoint.search : undefined;
            const legacy = this.newLegacy(endpoint);
            if (endpointKey !== undefined) this.legacy.set(endpointKey, legacy);
            transport = legacy;
            // An absolute endpoint on the upstream's origin would send the client around us.
            if (
              endpoint &&
              endpoint.origin === this.upstream.origin &&
              /^[a-z]+:/i.test(event.data)
            ) {
              return rewriteEvent(event, origin + endpoint.pathname + endpoint.search);
            }
            return raw;
          }
          transport = this.newStreamable(undefined);
        }
        return this.observeEvent(transport, event, raw, undefined);
      });
    } finally {
      if (endpointKey !== undefined && this.legacy.get(endpointKey) === transport) {
        this.legacy.delete(endpointKey);
      }
      if (transport) this.dispose(transport);
    }
  }

  private async passThrough(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
  ): Promise<void> {
    const upstreamRes = await this.call(req, res, body, undefined, undefined);
    if (upstreamRes) await this.pipeRaw(req, res, upstreamRes);
  }

  /** Parses a POST body, shows each message to the middleware, and returns what to forward. */
  private observeClientBody(
    transport: HttpProxyTransport,
    req: IncomingMessage,
    body: Buffer,
  ): { forward: Buffer; outgoing: Outgoing } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      // Not JSON: the upstream says so, in its own words.
      return { forward: body, outgoing: { requestIds: [], batch: false } };
    }
    const batch = Array.isArray(parsed);
    const items: readonly unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    const extra = {
      requestInfo: { headers: req.headers, url: new URL(req.url ?? '/', this.clientOrigin(req)) },
    };
    const requestIds: JsonRpcId[] = [];
    let changed = false;
    const out = items.map((item) => {
      if (!isMessage(item)) return item;
      if (typeof item.method === 'string' && isId(item.id)) requestIds.push(item.id);
      const forwarded = transport.fromClient(item, extra);
      if (forwarded !== item) changed = true;
      return forwarded;
    });
    const forward = changed ? Buffer.from(JSON.stringify(batch ? out : out[0]), 'utf8') : body;
    return { forward, outgoing: { requestIds, batch } };
  }

  /**
   * Sends the request upstream. Resolves with the response, or with undefined when the proxy
   * answered instead (unreachable, a redirect off the upstream's origin), after ending the
   * requests the POST carried.
   */
  private async call(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    outgoing: Outgoing | undefined,
    transport: HttpProxyTransport | undefined,
  ): Promise<IncomingMessage | undefined> {
    const method = req.method ?? 'GET';
    const target = upstreamUrlFor(req.url ?? '/', this.upstream);
    const sendsBody =
      body.length > 0 || !(method === 'GET' || method === 'HEAD' || method === 'DELETE');
    const call = this.client.request(
      target,
      method,
      forwardedRequestHeaders(req.headers, sendsBody ? body.length : undefined),
      sendsBody ? body : undefined,
    );
    this.calls.add(call);
    const release = (): void => {
      this.calls.delete(call);
    };
    // The client went away: so does the upstream request (an SSE stream above all).
    res.once('close', () => {
      if (!res.writableFinished) call.abort();
      release();
    });
    const started = performance.now();
    let upstreamRes: IncomingMessage;
    try {
      upstreamRes = await call.response;
    } catch (error) {
      release();
      if (res.destroyed) return undefined;
      const message = `upstream unreachable: ${errorText(error)}`;
      this.fail(res, 502, message, outgoing, transport, elapsedUs(started));
      return undefined;
    }
    upstreamRes.once('close', release);
    if (redirectsOffOrigin(upstreamRes, this.upstream)) {
      // Never followed, never passed on: the client would take its credentials elsewhere.
      upstreamRes.resume();
      const message = 'upstream redirected off its origin (not followed)';
      this.fail(res, 502, message, outgoing, transport, elapsedUs(started));
      return undefined;
    }
    return upstreamRes;
  }

  /** The proxy answers in the upstream's place: a JSON-RPC error, and the requests end. */
  private fail(
    res: ServerResponse,
    status: number,
    message: string,
    outgoing: Outgoing | undefined,
    transport: HttpProxyTransport | undefined,
    upstreamUs: number,
  ): void {
    const ids = outgoing?.requestIds ?? [];
    const errors = ids.map((id) => rpcError(id, message));
    if (transport) {
      const facts: UpstreamFacts = { upstreamUs, httpStatus: status, failed: true };
      for (const error of errors) transport.fromUpstream(error, facts);
    }
    const body =
      outgoing?.batch && errors.length > 0 ? errors : (errors[0] ?? rpcError(null, message));
    writeJson(res, status, body);
  }

  /** Passes the upstream's response on, observing the JSON-RPC messages it carries. */
  private async relay(
    transport: HttpProxyTransport,
    req: IncomingMessage,
    res: ServerResponse,
    upstreamRes: IncomingMessage,
    post: { started: number; headersUs: number; outgoing: Outgoing } | undefined,
  ): Promise<void> {
    const status = upstreamRes.statusCode ?? 0;
    const answered = new Set<JsonRpcId>();
    if (isEventStream(upstreamRes)) {
      let facts: UpstreamFacts | undefined;
      await this.streamEvents(req, res, upstreamRes, (event, raw) => {
        if (post && !facts) {
          facts = { upstreamUs: elapsedUs(post.started), httpStatus: status, failed: false };
        }
        return this.observeEvent(transport, event, raw, facts, answered);
      });
      return;
    }
    if (isJson(upstreamRes) && !isEncoded(upstreamRes)) {
      const body = await readAtMost(upstreamRes, MAX_OBSERVED_JSON_BYTES);
      if (body.complete) {
        const facts: UpstreamFacts | undefined = post
          ? { upstreamUs: post.headersUs, httpStatus: status, failed: false }
          : undefined;
        const parsed = parseJson(body.bytes);
        for (const item of [parsed].flat()) {
          if (!isMessage(item)) continue;
          if (isResponse(item)) answered.add(item.id);
          transport.fromUpstream(item, facts);
        }
        if (post)
          this.endUnanswered(transport, post.outgoing, answered, status, post.headersUs, parsed);
        res.writeHead(
          status,
          upstreamRes.statusMessage,
          this.responseHeaders(req, upstreamRes, true),
        );
        res.end(body.bytes);
        return;
      }
      res.writeHead(
        status,
        upstreamRes.statusMessage,
        this.responseHeaders(req, upstreamRes, true),
      );
      res.write(body.bytes);
      await this.pipeBody(res, upstreamRes);
      return;
    }
    if (post)
      this.endUnanswered(transport, post.outgoing, answered, status, post.headersUs, undefined);
    await this.pipeRaw(req, res, upstreamRes);
  }

  /**
   * Requests of a POST that the upstream refused with an HTTP error carrying no answer for
   * them: the client got an HTTP error, so they end now (with the upstream's JSON-RPC error if
   * it sent one without an id, else as an upstream failure).
   */
  private endUnanswered(
    transport: HttpProxyTransport,
    outgoing: Outgoing,
    answered: ReadonlySet<JsonRpcId>,
    status: number,
    upstreamUs: number,
    body: unknown,
  ): void {
    if (status < 400) return;
    const upstreamError =
      isMessage(body) && body.id === null && isMessage(body.error) ? body.error : undefined;
    const facts: UpstreamFacts = { upstreamUs, httpStatus: status, failed: !upstreamError };
    for (const id of outgoing.requestIds) {
      if (answered.has(id)) continue;
      const answer = upstreamError
        ? { jsonrpc: '2.0', id, error: upstreamError }
        : rpcError(id, `upstream answered HTTP ${status}`);
      transport.fromUpstream(answer, facts);
    }
  }

  /** Observes the messages of one SSE event; returns the bytes to write for it. */
  private observeEvent(
    transport: HttpProxyTransport,
    event: SseEvent,
    raw: Buffer,
    facts: UpstreamFacts | undefined,
    answered?: Set<JsonRpcId>,
  ): Buffer {
    if (event.type !== 'message' || event.data === undefined || event.data === '') return raw;
    const parsed = parseJson(Buffer.from(event.data, 'utf8'));
    const items: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
    let changed = false;
    const out = items.map((item) => {
      if (!isMessage(item)) return item;
      if (answered && isResponse(item)) answered.add(item.id);
      const sent = transport.fromUpstream(item, facts);
      if (sent !== item) changed = true;
      return sent;
    });
    if (!changed) return raw;
    return rewriteEvent(event, JSON.stringify(Array.isArray(parsed) ? out : out[0]));
  }

  /**
   * Streams an SSE response event by event: each event is written as soon as it is complete
   * (never the whole body held), after its messages were observed, so an upstream→client
   * request's span has started before the client can answer it.
   */
  private streamEvents(
    req: IncomingMessage,
    res: ServerResponse,
    upstreamRes: IncomingMessage,
    onEvent: (event: SseEvent, raw: Buffer) => Buffer,
  ): Promise<void> {
    res.writeHead(
      upstreamRes.statusCode ?? 200,
      upstreamRes.statusMessage,
      this.responseHeaders(req, upstreamRes, false),
    );
    res.flushHeaders();
    const splitter = new SseSplitter();
    const write = (piece: SseChunk): void => {
      let raw = piece.raw;
      if (piece.event) {
        const event = piece.event;
        try {
          raw = onEvent(event, raw);
        } catch (error) {
          reportError('observing an SSE event', error);
        }
      }
      if (res.destroyed) return;
      if (!res.write(raw)) {
        upstreamRes.pause();
        res.once('drain', () => upstreamRes.resume());
      }
    };
    return new Promise<void>((resolve) => {
      upstreamRes.on('data', (chunk: Buffer) => splitter.push(chunk, write));
      upstreamRes.once('end', () => {
        splitter.end(write);
        res.end();
      });
      upstreamRes.once('error', () => res.destroy());
      upstreamRes.once('close', () => {
        // Cut off before its end (upstream died, or the client left and we aborted).
        if (!upstreamRes.complete) res.destroy();
        resolve();
      });
    });
  }

  private async pipeRaw(
    req: IncomingMessage,
    res: ServerResponse,
    upstreamRes: IncomingMessage,
  ): Promise<void> {
    res.writeHead(
      upstreamRes.statusCode ?? 502,
      upstreamRes.statusMessage,
      this.responseHeaders(req, upstreamRes, true),
    );
    await this.pipeBody(res, upstreamRes);
  }

  private pipeBody(res: ServerResponse, upstreamRes: IncomingMessage): Promise<void> {
    return new Promise<void>((resolve) => {
      upstreamRes.pipe(res);
      upstreamRes.once('error', () => res.destroy());
      upstreamRes.once('close', () => {
        if (!upstreamRes.complete) res.destroy();
        resolve();
      });
    });
  }

  private responseHeaders(req: IncomingMessage, upstreamRes: IncomingMessage, keepLength: boolean) {
    return forwardedResponseHeaders(upstreamRes.headers, this.upstream, this.clientOrigin(req), {
      keepLength,
    });
  }

  /** Reads the request body; answers 413 and returns undefined when it is too large. */
  private async readBodyOr413(
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<Buffer | undefined> {
    const body = await readAtMost(req, MAX_REQUEST_BODY_BYTES);
    if (body.complete) return body.bytes;
    // `connection: close`: the socket ends once the answer is out; the rest is never read.
    res.setHeader('connection', 'close');
    writeJson(res, 413, rpcError(null, `request body over ${MAX_REQUEST_BODY_BYTES} bytes`));
    return undefined;
  }

  private sessionTransport(sessionId: string): ProxyStreamableHTTPTransport {
    const known = this.sessions.get(sessionId);
    if (known) {
      // Most recently used last, so eviction takes the idlest session.
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, known);
      return known;
    }
    // A session the proxy did not see start (the proxy restarted): carry on observing it.
    const transport = this.newStreamable(sessionId);
    this.remember(sessionId, transport);
    return transport;
  }

  private remember(sessionId: string, transport: ProxyStreamableHTTPTransport): void {
    const previous = this.sessions.get(sessionId);
    if (previous && previous !== transport) this.dispose(previous);
    this.sessions.set(sessionId, transport);
    while (this.sessions.size > MAX_PROXY_SESSIONS) {
      const oldest = this.sessions.values().next();
      if (oldest.done) break;
      this.dispose(oldest.value);
    }
  }

  private forget(transport: HttpProxyTransport): void {
    const id = transport.sessionId;
    if (id !== undefined && this.sessions.get(id) === transport) this.sessions.delete(id);
  }

  private dispose(transport: HttpProxyTransport): void {
    this.forget(transport);
    this.open.delete(transport);
    void transport.close();
  }

  private newStreamable(sessionId: string | undefined): ProxyStreamableHTTPTransport {
    return this.adopt(new ProxyStreamableHTTPTransport(this.exchange, this.inject, sessionId));
  }

  private newLegacy(endpoint: URL | undefined): SSEProxyTransport {
    const id =
      endpoint?.searchParams.get('sessionId') ??
      endpoint?.searchParams.get('session_id') ??
      undefined;
    return this.adopt(new SSEProxyTransport(this.exchange, this.inject, id));
  }

  private adopt<T extends HttpProxyTransport>(transport: T): T {
    instrumentTransport(transport, this.options.telemetry.instrumentOptions);
    this.open.add(transport);
    return transport;
  }

  /** The origin the client used to reach the proxy (for rewritten URLs it will follow). */
  private clientOrigin(req: IncomingMessage): string {
    const host = req.headers.host;
    return host ? `http://${host}` : this.origin;
  }
}

/** Reads a stream up to `limit` bytes; `complete` is false when it had more. */
function readAtMost(
  stream: IncomingMessage,
  limit: number,
): Promise<{ bytes: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      if (length > limit) {
        cleanup();
        stream.pause();
        resolve({ bytes: Buffer.concat(chunks, length), complete: false });
      }
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ bytes: Buffer.concat(chunks, length), complete: true });
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('connection closed before the body ended'));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
      stream.off('error', onError);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onClose);
    stream.once('error', onError);
  });
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const bytes = Buffer.from(JSON.stringify(body), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length });
  res.end(bytes);
}

function rpcError(id: JsonRpcId | null, message: string): Message {
  return { jsonrpc: '2.0', id, error: { code: PROXY_ERROR_CODE, message } };
}

function mediaType(res: IncomingMessage): string {
  return (res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

function isEventStream(res: IncomingMessage): boolean {
  return mediaType(res) === 'text/event-stream' && !isEncoded(res);
}

function isJson(res: IncomingMessage): boolean {
  return mediaType(res) === 'application/json';
}

/** A body the proxy cannot read (compressed despite `accept-encoding: identity`). */
function isEncoded(res: IncomingMessage): boolean {
  const encoding = res.headers['content-encoding'];
  return encoding !== undefined && encoding.trim().toLowerCase() !== 'identity';
}

function parseJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function resolveUrl(value: string, base: URL): URL | undefined {
  try {
    return new URL(value.trim(), base);
  } catch {
    return undefined;
  }
}

/** `localhost`, `127.x.y.z` or `[::1]`, with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  let name: string;
  try {
    name = new URL(`http://${host}`).hostname;
  } catch {
    return false;
  }
  return isLoopbackName(name);
}

/** Whether a host name or address (no port) is loopback. */
export function isLoopbackName(name: string): boolean {
  const bare = name.startsWith('[') && name.endsWith(']') ? name.slice(1, -1) : name;
  const lower = bare.toLowerCase();
  return (
    lower === 'localhost' ||
    lower.endsWith('.localhost') ||
    lower === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(lower)
  );
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || typeof value === 'number';
}

function isResponse(message: Message): message is Message & { id: JsonRpcId } {
  return message.method === undefined && isId(message.id);
}

function elapsedUs(since: number): number {
  return Math.round((performance.now() - since) * 1000);
}

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return error.message || (typeof code === 'string' ? code : 'error');
  }
  return String(error);
}

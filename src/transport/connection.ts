import { randomUUID } from 'node:crypto';
import type {
  RequestEvent,
  RequestNote,
  RequestRole,
  SchemaVersionCreatedEvent,
  SessionEndReason,
  TransportKind,
} from '../events.js';
import type {
  HttpFacts,
  LiveHooks,
  RequestEndDetail,
  RequestStart,
  ServerPeer,
} from '../live-hooks.js';
import type { Monitor, MonitoredConnection } from '../monitor.js';
import type { ResolvedOptions } from '../options.js';
import { guarded, reportError } from '../diagnostics.js';
import { clientPlatform } from '../session/client-platform.js';
import { isSchemaMethod } from '../schema/schema-tracker.js';
import { jsonByteLength } from './json-size.js';

/** How a request ended, besides its note; every field optional. */
interface RequestEnd {
  readonly response?: Message;
  readonly errorCode?: string;
  readonly errorMsg?: string;
  readonly schema?: SchemaVersionCreatedEvent;
  readonly upstream?: UpstreamFacts;
  /** performance.now() of the end, when the caller already read it. */
  readonly now?: number;
}

const NO_END: RequestEnd = {};

const NO_DETAIL = { response: undefined, schema: undefined } as const;

/** Longest `errorMsg` kept (characters). */
export const MAX_ERROR_MESSAGE_LENGTH = 512;

/** `_meta` keys of the per-request protocol era (MCP 2026-07-28). */
const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

type JsonRpcId = string | number;
type Message = Record<string, unknown>;

/**
 * What a proxying transport (the CLI proxy's) reports about the upstream exchange that carried
 * the message it is sending, readable while `send` runs.
 */
export interface UpstreamFacts {
  /** Microseconds to the upstream's response headers (JSON) or first event (SSE). */
  readonly upstreamUs?: number;
  /** Status of the upstream's HTTP response that carried the answer. */
  readonly httpStatus?: number;
  /** No JSON-RPC answer came from the upstream: the request ends `upstream_error`. */
  readonly failed?: boolean;
}

/**
 * A request in flight. It is also what the live hooks' `start` is given (a `RequestStart`), so
 * a request costs one object, not two.
 */
interface Pending extends RequestStart {
  /** The request as observed: a failed or aborted send ends only the request it opened. */
  readonly message: Message;
  readonly rpcId: JsonRpcId;
  /** performance.now() at start. */
  readonly start: number;
  readonly params: Message | undefined;
  readonly requestSize: number | undefined;
  readonly progressToken: JsonRpcId | undefined;
  /** What the live hooks' `start` returned. */
  token: unknown;
}

/** What an event takes from where it started: the pending request, or a notification. */
type EventSource = Pick<
  Pending,
  | 'ts'
  | 'role'
  | 'mcpMethod'
  | 'tool'
  | 'prompt'
  | 'resourceUri'
  | 'requestSize'
  | 'clientName'
  | 'clientVersion'
  | 'protocolVersion'
  | 'http'
>;

interface Session {
  readonly id: string;
  readonly role: RequestRole;
  /** Unix ms. */
  readonly ts: number;
  /** performance.now(). */
  readonly start: number;
  requestCount: number;
  errorCount: number;
  open: boolean;
  /** Ended by the idle timeout: traffic reopens it. */
  idle: boolean;
}

/**
 * One instrumented transport: correlates requests and responses in both directions, keeps the
 * session, and turns what it sees into events. Everything here runs on the host's message
 * path, so it is synchronous, allocation-light, and every entry point is guarded by the caller.
 */
export class Connection implements MonitoredConnection {
  readonly kind: TransportKind;
  /** Requests we received, awaiting our response. */
  private readonly incoming = new Map<JsonRpcId, Pending>();
  /** Requests we sent, awaiting the peer's response. */
  private readonly outgoing = new Map<JsonRpcId, Pending>();
  /** progressToken → request, only while live hooks want progress. */
  private readonly progress = new Map<JsonRpcId, Pending>();
  private session: Session | undefined;
  private clientName: string | undefined;
  private clientVersion: string | undefined;
  private protocolVersion: string | undefined;
  private serverName: string | undefined;
  private lastActivity = performance.now();
  private closed = false;
  private deleteSeen = false;
  private scopeId: string | undefined;
  /** The server's address for client-side spans; null until looked up. */
  private peer: ServerPeer | undefined | null = null;
  /** The id the session an initialize in flight will open (stdio, in-memory, custom). */
  private pendingSessionId: string | undefined;
  /** Latest HTTP facts seen through `handleRequest` (client address of the peer). */
  private httpPeer: HttpFacts | undefined;

  constructor(
    private readonly transport: {
      readonly sessionId?: string | undefined;
      readonly upstream?: UpstreamFacts | undefined;
    },
    private readonly monitor: Monitor,
    private readonly options: ResolvedOptions,
    kind: TransportKind,
    serverName: string | undefined,
  ) {
    this.kind = kind;
    this.serverName = serverName;
    monitor.register(this);
  }

  get inFlight(): number {
    return this.incoming.size + this.outgoing.size;
  }

  get sessionOpen(): boolean {
    return this.session?.open === true;
  }

  /** A message arrived (before the host sees it). Returns the live token to run the handler in. */
  received(message: unknown, extra: unknown): unknown {
    if (this.closed) return undefined;
    if (Array.isArray(message)) {
      for (const item of message) this.observe(item, 'in', extra);
      return undefined;
    }
    return this.observe(message, 'in', extra);
  }

  /**
   * The host is sending a message. Returns the message to send: the same object, or a copy the
   * live hooks made (trace context in `_meta`).
   */
  sending(message: unknown): unknown {
    if (this.closed) return message;
    if (Array.isArray(message)) {
      for (const item of message) this.observe(item, 'out', undefined);
      return message;
    }
    const token = this.observe(message, 'out', undefined);
    if (token === undefined) return message;
    const live = this.monitor.live;
    if (!live?.inject) return message;
    // guarded(), without a bound function and a closure per message.
    let replaced: unknown = message;
    try {
      replaced = live.inject(token, message as Message);
    } catch (error) {
      reportError('live inject', error);
    }
    return replaced ?? message;
  }

  /**
   * Runs the host's handler inside the live context of `token`. A hook that fails before
   * calling it is reported and the handler runs anyway; one that fails after it is reported and
   * the handler's result returned; the handler's own throw passes through, unchanged.
   */
  runHandler<This, R>(
    token: unknown,
    handler: (this: This, message: unknown, extra: unknown) => R,
    self: This,
    message: unknown,
    extra: unknown,
  ): R {
    const live = this.monitor.live;
    if (!live?.run) return handler.call(self, message, extra);
    // What the handler did, in variables rather than an object per message; one closure.
    let outcome: number = NOT_RUN;
    let value: R | undefined;
    let thrown: unknown;
    try {
      const returned = live.run(token, () => {
        try {
          value = handler.call(self, message, extra);
          outcome = RETURNED;
          return value;
        } catch (error) {
          thrown = error;
          outcome = THREW;
          throw error;
        }
      });
      if (outcome !== NOT_RUN) return returned;
      // The hook returned without running the handler: the message must still be handled.
      reportError('live run', new Error('the run hook did not call the handler'));
      return handler.call(self, message, extra);
    } catch (error) {
      if (outcome === THREW) {
        if (error !== thrown) reportError('live run', error);
        throw thrown;
      }
      reportError('live run', error);
      return outcome === NOT_RUN ? handler.call(self, message, extra) : (value as R);
    }
  }

  /**
   * Whether `message`, just sent, opened a request that awaits the peer's answer (a batch:
   * whether any of its items did), so that its send failing ends something.
   */
  awaitsAnswer(message: unknown): boolean {
    // Batches are flat, as in sending().
    if (Array.isArray(message)) return message.some((item) => this.opened(item));
    return this.opened(message);
  }

  /** Whether `message` opened a pending request; a response or notification needs no lookup. */
  private opened(message: unknown): boolean {
    return (
      isObject(message) &&
      typeof message.method === 'string' &&
      this.openedBy(message) !== undefined
    );
  }

  /** An outgoing request could not be sent: it will never be answered. */
  sendFailed(message: unknown, error: unknown): void {
    // A batch fails as a whole: every request in it will never be answered. Batches are flat
    // (JSON-RPC 2.0 §6), as in sending(): a nested array was never a request of ours.
    const items = Array.isArray(message) ? message : [message];
    for (const item of items) this.requestSendFailed(item, error);
  }

  private requestSendFailed(message: unknown, error: unknown): void {
    const pending = this.openedBy(message);
    if (!pending) return;
    this.outgoing.delete(pending.rpcId);
    this.finish(pending, 'error', { errorMsg: errorText(error) });
  }

  /** An outgoing request's own stream was aborted (its requestSignal): the requester cancelled. */
  aborted(message: unknown, reason: unknown): void {
    const pending = this.openedBy(message);
    if (!pending) return;
    this.outgoing.delete(pending.rpcId);
    const text = reason === undefined ? undefined : errorText(reason);
    this.finish(pending, 'cancelled', { errorMsg: text });
  }

  /**
   * The pending outgoing request `message` opened. A duplicate id never opened one (the first
   * request keeps the slot), so its failure must not end the request that holds the id.
   */
  private openedBy(message: unknown): Pending | undefined {
    if (!isObject(message) || !isId(message.id)) return undefined;
    const pending = this.outgoing.get(message.id);
    return pending?.message === message ? pending : undefined;
  }

  /** HTTP facts of a request the transport is about to handle (`handleRequest`). */
  httpRequest(facts: HttpFacts): void {
    this.httpPeer = facts;
    if (facts.method === 'DELETE') this.deleteSeen = true;
  }

  /** The transport closed: pending requests end `closed`, the session ends. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.endAllPending('closed');
    this.endSession(this.deleteSeen ? 'deleted' : 'closed');
    if (this.session) this.monitor.tracker.forgetScope(this.session.id);
    if (this.scopeId) this.monitor.tracker.forgetScope(this.scopeId);
    this.monitor.unregister(this);
  }

  sweep(now: number): void {
    const ttl = this.options.pendingRequestTimeoutMs;
    expireOlderThan(this.incoming, now - ttl, (p) => this.timeout(p, this.incoming));
    expireOlderThan(this.outgoing, now - ttl, (p) => this.timeout(p, this.outgoing));
    const session = this.session;
    if (session?.open && now - this.lastActivity > this.options.sessionIdleTimeoutMs) {
      this.endSession('idle_timeout');
    }
  }

  shutdown(): void {
    this.endSession('shutdown');
  }

  private observe(raw: unknown, direction: 'in' | 'out', extra: unknown): unknown {
    if (!isObject(raw)) return undefined;
    const message = raw;
    // One clock read per message: its activity, its request's start or its response's end.
    const now = performance.now();
    this.lastActivity = now;
    if (this.session?.idle) this.reopenSession();
    const method = message.method;
    if (typeof method === 'string') {
      const id = message.id;
      if (isId(id)) return this.requestStarted(message, method, id, direction, extra, now);
      return this.notification(message, method, direction, extra);
    }
    const id = message.id;
    if (!isId(id)) return undefined;
    // A response: ours to a request we received goes out; the peer's to ours comes in.
    const map = direction === 'out' ? this.incoming : this.outgoing;
    const pending = map.get(id);
    if (!pending) return undefined;
    map.delete(id);
    this.responded(
      pending,
      message,
      direction === 'out' ? this.transport.upstream : undefined,
      now,
    );
    return undefined;
  }

  private requestStarted(
    message: Message,
    method: string,
    id: JsonRpcId,
    direction: 'in' | 'out',
    extra: unknown,
    now: number,
  ): unknown {
    const map = direction === 'in' ? this.incoming : this.outgoing;
    if (map.has(id)) return undefined; // duplicate id: the first one keeps the slot
    if (map.size >= this.options.maxPendingRequests) this.evictOldest(map);
    const params = isObject(message.params) ? message.params : undefined;
    const role: RequestRole = direction === 'in' ? 'server' : 'client';
    const meta = params && isObject(params._meta) ? params._meta : undefined;
    const perRequestClient =
      meta && isObject(meta[META_CLIENT_INFO]) ? meta[META_CLIENT_INFO] : undefined;
    const perRequestVersion = meta ? stringOf(meta[META_PROTOCOL_VERSION]) : undefined;
    const name = params ? stringOf(params.name) : undefined;
    const tool = method === 'tools/call' ? name : undefined;
    const prompt = method === 'prompts/get' ? name : undefined;
    const resourceUri =
      method.startsWith('resources/') && params ? stringOf(params.uri) : undefined;
    const http = direction === 'in' ? this.httpFacts(extra) : undefined;
    const ts = Date.now();
    const start = now;
    // initialize names the client and the session it opens: allocate the session id now, so
    // the initialize span itself belongs to the session (its Resource, its attributes).
    const initialize = method === 'initialize';
    const initClient =
      initialize && params && isObject(params.clientInfo) ? params.clientInfo : undefined;
    if (initialize) {
      this.pendingSessionId =
        this.transport.sessionId ?? (this.kind === 'streamable-http' ? undefined : randomUUID());
    }
    const who = perRequestClient ?? initClient;
    const clientName = who ? stringOf(who.name) : this.clientName;
    const clientVersion = who ? stringOf(who.version) : this.clientVersion;
    const protocolVersion =
      perRequestVersion ??
      (initialize ? stringOf(params?.protocolVersion) : undefined) ??
      this.protocolVersion;
    if (perRequestClient) {
      this.clientName = clientName;
      this.clientVersion = clientVersion;
    }
    if (perRequestVersion) this.protocolVersion = perRequestVersion;

    const pending: Pending = {
      role,
      message,
      mcpMethod: method,
      jsonrpcId: String(id),
      notification: false,
      tool,
      prompt,
      resourceUri,
      server: this.server(),
      sessionId: initialize ? (this.pendingSessionId ?? this.sessionId()) : this.sessionId(),
      transport: this.kind,
      protocolVersion,
      clientName,
      clientVersion,
      clientPlatform: clientName === undefined ? undefined : clientPlatform(clientName),
      http,
      serverPeer: role === 'client' ? this.serverPeer() : undefined,
      ts,
      rpcId: id,
      start,
      params,
      requestSize: this.sizes() ? jsonByteLength(message) : undefined,
      progressToken: meta && isId(meta.progressToken) ? meta.progressToken : undefined,
      token: undefined,
    };
    const live = this.monitor.live;
    const token = live ? this.liveStart(live, pending) : undefined;
    pending.token = token;
    map.set(id, pending);
    const progressToken = pending.progressToken;
    if (progressToken !== undefined && token !== undefined && live?.progress) {
      this.progress.set(progressToken, pending);
    }
    return token;
  }

  private notification(
    message: Message,
    method: string,
    direction: 'in' | 'out',
    extra: unknown,
  ): unknown {
    const params = isObject(message.params) ? message.params : undefined;
    if (method === 'notifications/cancelled' && params && isId(params.requestId)) {
      // The requester cancels: an incoming cancel names a request we received, an outgoing
      // one a request we sent.
      const map = direction === 'in' ? this.incoming : this.outgoing;
      const pending = map.get(params.requestId);
      if (pending) {
        map.delete(params.requestId);
        this.finish(pending, 'cancelled', { errorMsg: stringOf(params.reason) });
      }
    } else if (method === 'notifications/progress' && params && isId(params.progressToken)) {
      const pending = this.progress.get(params.progressToken);
      const live = this.monitor.live;
      if (pending && pending.token !== undefined && live?.progress) {
        const progress = live.progress.bind(live);
        guarded('live progress', () => progress(pending.token, params));
      }
    } else if (method.endsWith('/list_changed')) {
      this.monitor.tracker.markStale(this.scope(), method);
    }
    const role: RequestRole = direction === 'in' ? 'server' : 'client';
    const http = direction === 'in' ? this.httpFacts(extra) : undefined;
    const ts = Date.now();
    // What the live hooks start with is also what the event is built from: one object.
    const start: RequestStart & Pick<Pending, 'requestSize'> = {
      role,
      message,
      mcpMethod: method,
      jsonrpcId: undefined,
      notification: true,
      tool: undefined,
      prompt: undefined,
      resourceUri: params ? stringOf(params.uri) : undefined,
      server: this.server(),
      sessionId: this.sessionId(),
      transport: this.kind,
      protocolVersion: this.protocolVersion,
      clientName: this.clientName,
      clientVersion: this.clientVersion,
      clientPlatform: this.clientName === undefined ? undefined : clientPlatform(this.clientName),
      http,
      serverPeer: role === 'client' ? this.serverPeer() : undefined,
      ts,
      requestSize: this.sizes() ? jsonByteLength(message) : undefined,
    };
    const live = this.monitor.live;
    const token = live ? this.liveStart(live, start) : undefined;
    const emitted = this.monitor.bus.wants('request');
    if (!emitted && (token === undefined || !live)) return token;
    const event = this.event(
      emitted,
      start,
      undefined,
      0,
      undefined,
      undefined,
      undefined,
      undefined,
      'notification',
    );
    if (token !== undefined && live) endLive(live, token, event, NO_DETAIL);
    if (emitted) this.monitor.emit(event);
    return token;
  }

  private responded(
    pending: Pending,
    response: Message,
    upstream: UpstreamFacts | undefined,
    now: number,
  ): void {
    const error = response.error;
    if (isObject(error)) {
      const code = error.code;
      this.finish(pending, 'error', {
        response,
        errorCode: typeof code === 'number' || typeof code === 'string' ? String(code) : undefined,
        errorMsg: stringOf(error.message),
        upstream,
        now,
      });
      return;
    }
    const result = isObject(response.result) ? response.result : undefined;
    if (pending.mcpMethod === 'tools/call' && result?.isError === true) {
      this.finish(pending, 'tool_error', {
        response,
        errorMsg: toolErrorText(result),
        upstream,
        now,
      });
      return;
    }
    if (pending.mcpMethod === 'initialize' && result) this.initialized(pending, result);
    else if (result && this.serverName === undefined) this.learnServerInfo(result);
    let schema: SchemaVersionCreatedEvent | undefined;
    if (this.options.schemaTracking && result && isSchemaMethod(pending.mcpMethod)) {
      schema = this.monitor.tracker.observe({
        server: this.server(),
        scope: this.scope(),
        sessionId: this.sessionId(),
        method: pending.mcpMethod,
        requestCursor: pending.params?.cursor,
        result,
        jsonrpcId: pending.jsonrpcId,
        role: pending.role,
        now,
      });
    }
    this.finish(pending, 'ok', { response, schema, upstream, now });
  }

  private finish(pending: Pending, note: RequestNote, end: RequestEnd = NO_END): void {
    const { response, errorCode, errorMsg, schema, upstream, now = performance.now() } = end;
    if (upstream?.failed) note = 'upstream_error';
    if (pending.progressToken !== undefined) this.progress.delete(pending.progressToken);
    if (pending.mcpMethod === 'initialize' && note !== 'ok') this.pendingSessionId = undefined;
    const latencyUs = Math.round((now - pending.start) * 1000);
    const session = this.session;
    this.monitor.requestCount++;
    if (note !== 'ok') this.monitor.errorCount++;
    if (session?.open) {
      session.requestCount++;
      if (note !== 'ok') session.errorCount++;
    }
    // Nobody takes request events and no live hook ends a span: there is nothing to build.
    const emitted = this.monitor.bus.wants('request');
    const live = this.monitor.live;
    const token = pending.token;
    if (emitted || (token !== undefined && live)) {
      const event = this.event(
        emitted,
        pending,
        pending.jsonrpcId,
        latencyUs,
        response && emitted && this.options.captureSizes ? jsonByteLength(response) : undefined,
        errorCode,
        errorMsg === undefined ? undefined : capMessage(errorMsg),
        upstream,
        note,
      );
      if (token !== undefined && live) endLive(live, token, event, { response, schema });
      if (emitted) this.monitor.emit(event);
    }
    if (schema) this.monitor.emit(schema);
  }

  /** Whether to measure message sizes: asked for, and some sink takes the events that carry them. */
  private sizes(): boolean {
    return this.options.captureSizes && this.monitor.bus.wants('request');
  }

  /**
   * The event of a request that ended, or of a notification. Built straight from `source` (the
   * pending request itself) rather than from an object of fields assembled per message.
   */
  private event(
    emitted: boolean,
    source: EventSource,
    jsonrpcId: string | undefined,
    latencyUs: number,
    responseSize: number | undefined,
    errorCode: string | undefined,
    errorMsg: string | undefined,
    upstream: UpstreamFacts | undefined,
    note: RequestNote,
  ): RequestEvent {
    const http = source.http;
    const clientName = source.clientName ?? this.clientName;
    return {
      type: 'request',
      // Only an emitted event needs its id; live hooks alone never read it.
      id: emitted ? randomUUID() : '',
      ts: source.ts,
      server: this.server(),
      sessionId: this.sessionId(),
      role: source.role,
      transport: this.kind,
      httpMethod: http?.method,
      path: http?.path,
      httpStatus: upstream?.httpStatus,
      clientAddress: http?.clientAddress,
      clientPort: http?.clientPort,
      mcpMethod: source.mcpMethod,
      jsonrpcId,
      tool: source.tool,
      prompt: source.prompt,
      resourceUri: source.resourceUri,
      latencyUs,
      upstreamUs: upstream?.upstreamUs,
      requestSize: source.requestSize,
      responseSize,
      errorCode,
      errorMsg,
      clientName,
      clientVersion: source.clientVersion ?? this.clientVersion,
      clientPlatform: clientName === undefined ? undefined : clientPlatform(clientName),
      protocolVersion: source.protocolVersion ?? this.protocolVersion,
      note,
    };
  }

  /** Per-request era: no initialize, the server names itself in every result's `_meta`. */
  private learnServerInfo(result: Message): void {
    const meta = isObject(result._meta) ? result._meta : undefined;
    const info = meta && isObject(meta[META_SERVER_INFO]) ? meta[META_SERVER_INFO] : undefined;
    const name = info ? stringOf(info.name) : undefined;
    if (!name) return;
    this.serverName = name;
    this.monitor.serverName ??= name;
  }

  private initialized(pending: Pending, result: Message): void {
    const clientInfo =
      pending.params && isObject(pending.params.clientInfo) ? pending.params.clientInfo : undefined;
    this.clientName = clientInfo ? stringOf(clientInfo.name) : this.clientName;
    this.clientVersion = clientInfo ? stringOf(clientInfo.version) : this.clientVersion;
    this.protocolVersion =
      stringOf(result.protocolVersion) ?? stringOf(pending.params?.protocolVersion);
    const serverInfo = isObject(result.serverInfo) ? result.serverInfo : undefined;
    const serverName = serverInfo ? stringOf(serverInfo.name) : undefined;
    if (serverName) {
      this.serverName = serverName;
      this.monitor.serverName ??= serverName;
    }
    if (this.session?.open) this.endSession('closed'); // re-initialize on one connection
    const id =
      this.transport.sessionId ??
      this.pendingSessionId ??
      (this.kind === 'streamable-http' ? undefined : randomUUID());
    this.pendingSessionId = undefined;
    if (id === undefined) return; // stateless HTTP: requests, but no session
    const now = performance.now();
    this.session = {
      id,
      role: pending.role,
      ts: Date.now(),
      start: now,
      requestCount: 0,
      errorCount: 0,
      open: true,
      idle: false,
    };
    this.monitor.activeSessions++;
    this.monitor.emit({
      type: 'session_start',
      sessionId: id,
      server: this.server(),
      ts: this.session.ts,
      clientName: this.clientName,
      clientVersion: this.clientVersion,
      clientPlatform: clientPlatform(this.clientName),
      protocolVersion: this.protocolVersion,
      transport: this.kind,
      serverName,
      serverVersion: serverInfo ? stringOf(serverInfo.version) : undefined,
      role: pending.role,
    });
  }

  private reopenSession(): void {
    const session = this.session;
    if (!session || session.open || this.closed) return;
    // Traffic after an idle timeout: the same session carries on, so it starts again.
    session.open = true;
    session.idle = false;
    this.monitor.activeSessions++;
    this.monitor.emit({
      type: 'session_start',
      sessionId: session.id,
      server: this.server(),
      ts: Date.now(),
      clientName: this.clientName,
      clientVersion: this.clientVersion,
      clientPlatform: clientPlatform(this.clientName),
      protocolVersion: this.protocolVersion,
      transport: this.kind,
      serverName: this.serverName,
      serverVersion: undefined,
      role: session.role,
    });
  }

  private endSession(reason: SessionEndReason): void {
    const session = this.session;
    if (!session?.open) return;
    session.open = false;
    session.idle = reason === 'idle_timeout';
    this.monitor.activeSessions--;
    const now = Date.now();
    this.monitor.emit({
      type: 'session_end',
      sessionId: session.id,
      server: this.server(),
      ts: now,
      durationMs: Math.max(0, Math.round(performance.now() - session.start)),
      requestCount: session.requestCount,
      errorCount: session.errorCount,
      reason,
      transport: this.kind,
      role: session.role,
    });
  }

  private endAllPending(note: 'closed' | 'timeout'): void {
    for (const map of [this.incoming, this.outgoing]) {
      const entries = [...map.values()];
      map.clear();
      for (const pending of entries) {
        this.finish(pending, note);
      }
    }
  }

  private timeout(pending: Pending, map: Map<JsonRpcId, Pending>): void {
    map.delete(pending.rpcId);
    this.finish(pending, 'timeout');
  }

  private evictOldest(map: Map<JsonRpcId, Pending>): void {
    const oldest = map.values().next();
    if (!oldest.done) this.timeout(oldest.value, map);
  }

  private liveStart(live: LiveHooks, info: RequestStart): unknown {
    try {
      return live.start(info);
    } catch (error) {
      reportError('live start', error);
      return undefined;
    }
  }

  private httpFacts(extra: unknown): HttpFacts | undefined {
    if (this.kind !== 'streamable-http' && this.kind !== 'sse') return undefined;
    const peer = this.httpPeer;
    let headers: unknown;
    let path: string | undefined;
    if (isObject(extra)) {
      // v1 passes requestInfo { headers, url }; v2 passes the web Request itself.
      const info = extra.requestInfo;
      const request = extra.request;
      if (isObject(info)) {
        headers = info.headers;
        path = urlPath(info.url);
      } else if (isObject(request)) {
        headers = request.headers;
        path = urlPath(request.url);
      }
    }
    if (headers === undefined && path === undefined && !peer) return undefined;
    return {
      headers,
      // Client-to-server messages only ever travel in POST bodies (Streamable HTTP and SSE).
      method: 'POST',
      path: path ?? peer?.path,
      clientAddress: peer?.clientAddress,
      clientPort: peer?.clientPort,
      protocolVersion: peer?.protocolVersion,
    };
  }

  /**
   * Where the server is, for the client side: the SDK's HTTP client transports keep their URL
   * in `_url` (both generations); read once, by shape, never written.
   */
  private serverPeer(): ServerPeer | undefined {
    if (this.peer !== null) return this.peer;
    let peer: ServerPeer | undefined;
    try {
      const url = (this.transport as { _url?: unknown })._url;
      if (url instanceof URL && (url.protocol === 'http:' || url.protocol === 'https:')) {
        const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
        peer = { address: url.hostname.replace(/^\[|\]$/g, ''), port };
      }
    } catch {
      peer = undefined;
    }
    this.peer = peer;
    return peer;
  }

  private server(): string {
    return this.options.serverName ?? this.serverName ?? this.monitor.serverName ?? 'unknown';
  }

  private sessionId(): string | undefined {
    const session = this.session;
    if (session) return session.id;
    // A peer that does not wait for the initialize answer: its requests join that session.
    if (this.pendingSessionId !== undefined) return this.pendingSessionId;
    const id = this.transport.sessionId;
    return typeof id === 'string' ? id : undefined;
  }

  private scope(): string {
    return this.session?.id ?? (this.scopeId ??= randomUUID());
  }
}

/** What the handler did, in runHandler. */
const NOT_RUN = 0;
const RETURNED = 1;
const THREW = 2;

/** The `end` hook, guarded as guarded() would, without a bound function and a closure. */
function endLive(
  live: LiveHooks,
  token: unknown,
  event: RequestEvent,
  detail: RequestEndDetail,
): void {
  try {
    reportRejection('live end', live.end(token, event, detail));
  } catch (error) {
    reportError('live end', error);
  }
}

/** guarded()'s handling of a hook's result: a promise it returns is watched for rejection. */
function reportRejection(context: string, result: unknown): void {
  if (
    typeof result === 'object' &&
    result !== null &&
    typeof (result as { then?: unknown }).then === 'function'
  ) {
    (result as PromiseLike<unknown>).then(undefined, (error: unknown) =>
      reportError(context, error),
    );
  }
}

function expireOlderThan(
  map: Map<JsonRpcId, Pending>,
  cutoff: number,
  expire: (pending: Pending) => void,
): void {
  // Maps iterate in insertion order, which is start order: stop at the first young entry.
  for (const pending of map.values()) {
    if (pending.start > cutoff) break;
    expire(pending);
  }
}

function isObject(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || typeof value === 'number';
}

function stringOf(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function capMessage(text: string): string {
  return text.length > MAX_ERROR_MESSAGE_LENGTH ? text.slice(0, MAX_ERROR_MESSAGE_LENGTH) : text;
}

function toolErrorText(result: Message): string | undefined {
  const content = result.content;
  if (!Array.isArray(content)) return undefined;
  for (const block of content) {
    if (isObject(block) && block.type === 'text' && typeof block.text === 'string')
      return block.text;
  }
  return undefined;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'send failed';
}

function urlPath(url: unknown): string | undefined {
  if (url instanceof URL) return url.pathname;
  if (typeof url === 'string') {
    try {
      return new URL(url, 'http://localhost').pathname;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

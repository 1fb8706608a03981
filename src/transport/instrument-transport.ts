import type { HttpFacts } from '../live-hooks.js';
import { getDefaultBus } from '../event-bus.js';
import { guarded, reportError } from '../diagnostics.js';
import { monitorFor } from '../monitor.js';
import { resolveOptions, type InstrumentOptions } from '../options.js';
import { Connection } from './connection.js';
import { detectTransportKind } from './transport-kind.js';

/**
 * The part of the MCP Transport contract mcp-otel relies on. Both SDK generations'
 * transports (and any custom one) satisfy it.
 */
export interface TransportLike {
  start(): Promise<void>;
  send(message: never, options?: never): Promise<void>;
  close(): Promise<void>;
  sessionId?: string | undefined;
}

type Handler = (this: unknown, ...args: unknown[]) => unknown;
type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

const INSTRUMENTED = Symbol.for('mcp-otel.instrumented');

/** Internal knobs `instrument()` passes; not part of the public options. */
export interface TransportInstrumentation {
  /** Server name known at instrument time (e.g. read from the server object). */
  readonly serverName?: string;
}

/**
 * Wraps a transport in place (see `instrumentTransport` in src/instrument.ts, the public entry):
 * events go to `options.bus`, which the entry points resolve, with `internal` knobs.
 */
export function instrumentTransportWith<T extends TransportLike>(
  transport: T,
  options: InstrumentOptions | undefined,
  internal: TransportInstrumentation,
): T {
  if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') {
    throw new TypeError('instrumentTransport: expected an MCP Transport (an object with send())');
  }
  const target = transport as T & Record<PropertyKey, unknown>;
  if (target[INSTRUMENTED] === true) return transport;
  try {
    // The entry points resolve the bus and attach its sinks (src/setup.ts); the middleware only
    // emits onto it.
    const bus = options?.bus ?? getDefaultBus();
    const resolved = resolveOptions(options);
    const monitor = monitorFor(bus, resolved);
    const kind = resolved.transportKind ?? detectTransportKind(transport);
    const connection = new Connection(transport, monitor, resolved, kind, internal.serverName);
    patch(target, connection);
  } catch (error) {
    reportError('instrumentTransport (transport left as it was)', error);
  }
  return transport;
}

function patch(target: Record<PropertyKey, unknown>, connection: Connection): void {
  Object.defineProperty(target, INSTRUMENTED, { value: true, enumerable: false });

  // onmessage: observe before the host's handler runs, and run that handler inside the live
  // context (the span of the request) so the host's own work nests under it.
  let dispatching: unknown;
  interceptHandler(
    target,
    'onmessage',
    (handler) =>
      function onmessage(this: unknown, message: unknown, extra: unknown): unknown {
        // Protocol.connect() chains the handler it found before installing its own; the chained
        // call carries the same message and must not be observed twice.
        if (message === dispatching) return handler.call(this, message, extra);
        const previous = dispatching;
        dispatching = message;
        try {
          let token: unknown;
          try {
            token = connection.received(message, extra);
          } catch (error) {
            reportError('observing a received message', error);
          }
          if (token === undefined) return handler.call(this, message, extra);
          return connection.runHandler(token, handler, this, message, extra);
        } finally {
          dispatching = previous;
        }
      },
  );

  const stopWatchingInput = watchInputEnd(target, connection);
  const closed = (): void => {
    try {
      stopWatchingInput();
      connection.close();
    } catch (error) {
      reportError('observing close', error);
    }
  };

  interceptHandler(
    target,
    'onclose',
    (handler) =>
      function onclose(this: unknown, ...args: unknown[]): unknown {
        closed();
        return handler.apply(this, args);
      },
  );

  wrapMethod(
    target,
    'send',
    (original) =>
      function send(this: unknown, message: unknown, ...rest: unknown[]): unknown {
        let outgoing = message;
        try {
          outgoing = connection.sending(message);
          // Per-request streams (v2 modern HTTP) cancel by aborting the request's own stream
          // (TransportSendOptions.requestSignal) instead of sending notifications/cancelled.
          const signal = (rest[0] as { requestSignal?: unknown } | undefined)?.requestSignal;
          if (signal instanceof AbortSignal) {
            const cancel = (): void =>
              guarded('observing an aborted request', () =>
                connection.aborted(message, signal.reason),
              );
            if (signal.aborted) cancel();
            else signal.addEventListener('abort', cancel, { once: true });
          }
        } catch (error) {
          reportError('observing a sent message', error);
        }
        let result: unknown;
        try {
          result = original.call(this, outgoing, ...rest);
        } catch (error) {
          // A send that throws instead of rejecting failed just the same; the throw is the host's.
          sendFailed(connection, message, error);
          throw error;
        }
        // Only a request's failed send ends anything (its request, never to be answered). A
        // response's or notification's promise is left as the host's alone: no promise of ours
        // per message, and a rejection the host leaves unhandled stays unhandled, as without us.
        if (isPromise(result) && connection.awaitsAnswer(message)) {
          result.then(undefined, (error: unknown) => sendFailed(connection, message, error));
        }
        return result;
      },
  );

  // close() with no onclose handler installed would otherwise go unseen.
  wrapMethod(
    target,
    'close',
    (original) =>
      function close(this: unknown, ...args: unknown[]): unknown {
        const result = original.apply(this, args);
        if (isPromise(result)) result.then(closed, closed);
        else closed();
        return result;
      },
  );

  // HTTP server transports: the peer's address and DELETE (session deleted) are only visible
  // on the HTTP request itself.
  for (const name of ['handleRequest', 'handlePostMessage']) {
    wrapMethod(
      target,
      name,
      (original) =>
        function handle(this: unknown, request: unknown, ...rest: unknown[]): unknown {
          try {
            const facts = httpFactsOf(request);
            if (facts) connection.httpRequest(facts);
          } catch (error) {
            reportError('observing an HTTP request', error);
          }
          return original.call(this, request, ...rest);
        },
    );
  }
}

/** A send failed: the message as observed (not a copy live hooks made for the wire) ends. */
function sendFailed(connection: Connection, message: unknown, error: unknown): void {
  try {
    connection.sendFailed(message, error);
  } catch (inner) {
    reportError('observing a failed send', inner);
  }
}

/**
 * SDK 1.x's `StdioServerTransport` never notices that its stdin ended (the client closed the
 * pipe or exited): it neither closes nor calls `onclose`, so the process simply runs out of work
 * and exits with the session still open, and `session_end` would never be emitted. SDK 2.x's
 * transport closes itself on end, which reaches us through `onclose`; watching the stream's
 * `end` gives 1.x the same events. Observation only: the transport is left as it is. Returns a
 * function that stops watching (the stream is often the process-wide `process.stdin`).
 */
function watchInputEnd(target: Record<PropertyKey, unknown>, connection: Connection): () => void {
  const input = target._stdin;
  if (connection.kind !== 'stdio' || !isEventSource(input)) return () => undefined;
  const ended = (): void => {
    try {
      connection.close();
    } catch (error) {
      reportError('observing the end of stdin', error);
    }
  };
  input.once('end', ended);
  return () => {
    input.removeListener('end', ended);
  };
}

interface EventSource {
  once(event: string, listener: () => void): unknown;
  removeListener(event: string, listener: () => void): unknown;
}

function isEventSource(value: unknown): value is EventSource {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as EventSource).once === 'function' &&
    typeof (value as EventSource).removeListener === 'function'
  );
}

/**
 * Replaces the handler property `name` with an accessor that wraps whatever handler is
 * assigned. Where the transport already has an accessor (SDK 1.x's Node Streamable HTTP
 * transport forwards to an inner web-standard transport through prototype accessors), the
 * wrapped handler is stored through that accessor, so the inner transport calls it; where it is
 * a plain field, the accessor keeps it. Reading gives the wrapped handler, which is what the
 * transport itself must call; assigning one of our wrappers back does not wrap it twice.
 */
function interceptHandler(
  target: Record<PropertyKey, unknown>,
  name: string,
  wrap: (handler: Handler) => Handler,
): void {
  const descriptor = findDescriptor(target, name);
  let read: () => unknown;
  let write: (value: unknown) => void;
  if (descriptor && (descriptor.get || descriptor.set)) {
    const accessor = descriptor;
    read = () => accessor.get?.call(target);
    write = (value) => accessor.set?.call(target, value);
  } else {
    let slot: unknown = descriptor?.value;
    read = () => slot;
    write = (value) => {
      slot = value;
    };
  }
  const ours = new WeakSet<object>();
  const adopt = (value: unknown): unknown => {
    if (typeof value !== 'function' || ours.has(value)) return value;
    const wrapped = wrap(value as Handler);
    ours.add(wrapped);
    return wrapped;
  };
  write(adopt(read()));
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: true,
    get: read,
    set: (value: unknown) => write(adopt(value)),
  });
}

function wrapMethod(
  target: Record<PropertyKey, unknown>,
  name: string,
  wrap: (original: AnyFunction) => AnyFunction,
): void {
  const original = target[name];
  if (typeof original !== 'function') return;
  const descriptor = findDescriptor(target, name);
  if (descriptor && descriptor.writable === false && !descriptor.configurable) return;
  Object.defineProperty(target, name, {
    configurable: true,
    enumerable: descriptor?.enumerable ?? false,
    writable: true,
    value: wrap(original as AnyFunction),
  });
}

function findDescriptor(target: object, name: string): PropertyDescriptor | undefined {
  let proto: object | null = target;
  while (proto) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, name);
    if (descriptor) return descriptor;
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return undefined;
}

function isPromise(value: unknown): value is Promise<unknown> {
  return value instanceof Promise;
}

/** Facts of a Node IncomingMessage or a web Request. */
function httpFactsOf(request: unknown): HttpFacts | undefined {
  if (typeof request !== 'object' || request === null) return undefined;
  const r = request as {
    method?: unknown;
    url?: unknown;
    httpVersion?: unknown;
    socket?: { remoteAddress?: unknown; remotePort?: unknown };
  };
  const method = typeof r.method === 'string' ? r.method : undefined;
  let path: string | undefined;
  if (typeof r.url === 'string') {
    const query = r.url.indexOf('?');
    path = r.url.startsWith('/') ? (query >= 0 ? r.url.slice(0, query) : r.url) : safePath(r.url);
  }
  const socket = r.socket;
  return {
    method,
    path,
    clientAddress: typeof socket?.remoteAddress === 'string' ? socket.remoteAddress : undefined,
    clientPort: typeof socket?.remotePort === 'number' ? socket.remotePort : undefined,
    protocolVersion: typeof r.httpVersion === 'string' ? r.httpVersion : undefined,
  };
}

function safePath(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

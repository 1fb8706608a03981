import type { InstrumentOptions } from './options.js';
import { reportError, reportWarning } from './diagnostics.js';
import { resolveBus } from './setup.js';
import { instrumentTransportWith, type TransportLike } from './transport/instrument-transport.js';

/**
 * What `instrument()` accepts: an `McpServer`, a low-level `Server` or a `Client`, of either
 * SDK generation (`@modelcontextprotocol/sdk` 1.x, `@modelcontextprotocol/server|client` 2.x).
 * Structural, so mcp-otel never imports the SDK at run time.
 */
export type Instrumentable =
  | { connect(transport: never, ...rest: never[]): Promise<void> }
  | { server: { connect(transport: never, ...rest: never[]): Promise<void> } };

type Connectable = {
  connect: (this: unknown, transport: unknown, ...rest: unknown[]) => Promise<void>;
  transport?: unknown;
  _serverInfo?: { name?: unknown };
};

const INSTRUMENTED = Symbol.for('mcp-otel.instrumented-target');

/**
 * Instruments an MCP server or client: every transport it connects (now or later) is wrapped
 * with {@link instrumentTransport}. Returns the same object, so it is one line:
 *
 * @example
 * import { instrument, createConsoleSink } from 'mcp-otel';
 * const server = instrument(new McpServer({ name: 'weather', version: '1.0.0' }), {
 *   sinks: [createConsoleSink()],
 * });
 * await server.connect(new StdioServerTransport());
 */
export function instrument<T extends Instrumentable>(target: T, options?: InstrumentOptions): T {
  if (target === null || typeof target !== 'object') {
    throw new TypeError('instrument: expected an McpServer, Server or Client');
  }
  const protocol = findProtocol(target);
  if (!protocol) {
    throw new TypeError(
      'instrument: expected an McpServer, Server or Client (an object with connect(), or .server.connect())',
    );
  }
  const marked = protocol as Connectable & Record<PropertyKey, unknown>;
  if (marked[INSTRUMENTED] === true) {
    reportWarning('instrument: this object is instrumented already; the second call does nothing');
    return target;
  }
  try {
    // Resolve the bus and its sinks now, not at the first connect: with no sinks given this
    // starts the OpenTelemetry pipeline, and spans the app starts before connecting (an
    // agent's outer span) must already have somewhere to go.
    const resolved = withBus(options, serverNameOf(protocol));
    const original = protocol.connect;
    Object.defineProperty(marked, INSTRUMENTED, { value: true, enumerable: false });
    Object.defineProperty(protocol, 'connect', {
      configurable: true,
      enumerable: false,
      writable: true,
      value: function connect(this: unknown, transport: unknown, ...rest: unknown[]) {
        return original.call(this, instrumentConnection(protocol, transport, resolved), ...rest);
      },
    });
    // Already connected: instrument the live transport too.
    const live = protocol.transport;
    if (live !== undefined) instrumentConnection(protocol, live, resolved);
  } catch (error) {
    reportError('instrument (left as it was)', error);
  }
  return target;
}

/**
 * Wraps a transport in place so that every message it carries, in either direction, becomes
 * events (and, with the OTel sink, spans), and returns it. Use it for a transport you connect
 * yourself; `instrument()` calls it for every transport a server or client connects.
 * Transparent: messages reach the other side unchanged (the only change is W3C trace context in
 * `params._meta`, on a copy), handlers installed before or after behave as before, and nothing
 * here ever throws into the host.
 *
 * @example
 * const transport = instrumentTransport(new StdioServerTransport());
 * await server.connect(transport);
 */
export function instrumentTransport<T extends TransportLike>(
  transport: T,
  options?: InstrumentOptions,
): T {
  if (transport === null || typeof transport !== 'object' || typeof transport.send !== 'function') {
    throw new TypeError('instrumentTransport: expected an MCP Transport (an object with send())');
  }
  return instrumentTransportWith(transport, withBus(options, undefined), {});
}

/** Options with the bus resolved and its sinks attached, so the middleware only sees a bus. */
function withBus(
  options: InstrumentOptions | undefined,
  serverName: string | undefined,
): InstrumentOptions {
  let bus;
  try {
    bus = resolveBus(options, serverName);
  } catch (error) {
    reportError('setting up sinks', error);
    return { ...options, sinks: [] };
  }
  return { ...options, bus, sinks: [] };
}

/**
 * What `instrument()`'s connect() does for each transport, also used by `mcp-otel/register`:
 * the bus and sinks the options ask for (with none, the process-wide OpenTelemetry sink named
 * after the server), and the server's name as the server object knows it. Anything that is not
 * a transport is passed through, for the SDK to report.
 */
export function instrumentConnection(
  protocol: unknown,
  transport: unknown,
  options?: InstrumentOptions,
): unknown {
  if (!isTransportLike(transport)) return transport;
  const serverName = serverNameOf(protocol);
  // withBus is idempotent: options it already resolved keep their bus and add no sinks.
  return instrumentTransportWith(transport, withBus(options, serverName), { serverName });
}

function isTransportLike(value: unknown): value is TransportLike {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { send?: unknown }).send === 'function'
  );
}

/** The object whose `connect()` runs Protocol.connect: McpServer delegates to `.server`. */
function findProtocol(target: object): Connectable | undefined {
  const inner = (target as { server?: unknown }).server;
  if (isConnectable(inner)) return inner;
  return isConnectable(target) ? target : undefined;
}

function isConnectable(value: unknown): value is Connectable {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Connectable).connect === 'function'
  );
}

/** Best effort: both SDK generations keep the server's own info in `_serverInfo`. */
function serverNameOf(protocol: unknown): string | undefined {
  try {
    const name = (protocol as Connectable | null)?._serverInfo?.name;
    return typeof name === 'string' && name.length > 0 ? name : undefined;
  } catch {
    return undefined;
  }
}

import type { EventBus, EventSink } from './event-bus.js';
import type { TransportKind } from './events.js';
import { printable, reportWarning } from './diagnostics.js';
import type { OtelSinkOptions } from './sinks/otel/otel-sink.js';

/** Default {@link InstrumentOptions.heartbeatIntervalMs}: 30 s. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
/** Default {@link InstrumentOptions.sessionIdleTimeoutMs}: 30 min. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 30 * 60_000;
/** Default {@link InstrumentOptions.pendingRequestTimeoutMs}: 10 min. */
export const DEFAULT_PENDING_REQUEST_TIMEOUT_MS = 10 * 60_000;
/** Default {@link InstrumentOptions.maxPendingRequests}. */
export const DEFAULT_MAX_PENDING_REQUESTS = 10_000;

/**
 * Options of `instrument()` and `instrumentTransport()`: one object, every field optional. The
 * OpenTelemetry fields (inherited from {@link OtelSinkOptions}) shape the OTel sink that is
 * created when no `sinks` and no `bus` are given; the first call that creates it fixes them.
 */
export interface InstrumentOptions extends OtelSinkOptions {
  /**
   * Sinks that receive events, added (once each) to the bus in use: the process-wide one unless
   * `bus` is given.
   * @default [the process-wide OpenTelemetry sink] when `bus` is not given either; else []
   */
  sinks?: readonly EventSink[];
  /** Server name in events; overrides `serverInfo.name` learned from initialize. @default serverInfo.name, else 'unknown' */
  serverName?: string;
  /** Heartbeat period in ms; 0 turns heartbeats off. @default 30_000 */
  heartbeatIntervalMs?: number;
  /** A session with no traffic for this long ends with reason `idle_timeout`. @default 1_800_000 (30 min) */
  sessionIdleTimeoutMs?: number;
  /** A request unanswered for this long ends with note `timeout`. @default 600_000 (10 min) */
  pendingRequestTimeoutMs?: number;
  /** Most unanswered requests tracked per connection and direction; the oldest ends as `timeout` beyond it. @default 10_000 */
  maxPendingRequests?: number;
  /** Version the contract of list results (`schema_version_created`). @default true */
  schemaTracking?: boolean;
  /** Measure message sizes (`requestSize`/`responseSize`). @default true */
  captureSizes?: boolean;
  /** The bus events go to; share one among several servers. @default the process-wide bus */
  bus?: EventBus;
  /** Overrides the transport kind detected from the transport's class. @default detected */
  transportKind?: TransportKind;
}

/** Options with every default applied and every value checked. */
export interface ResolvedOptions {
  readonly serverName: string | undefined;
  readonly heartbeatIntervalMs: number;
  readonly sessionIdleTimeoutMs: number;
  readonly pendingRequestTimeoutMs: number;
  readonly maxPendingRequests: number;
  readonly schemaTracking: boolean;
  readonly captureSizes: boolean;
  readonly transportKind: TransportKind | undefined;
}

const TRANSPORT_KINDS: ReadonlySet<string> = new Set<TransportKind>([
  'stdio',
  'streamable-http',
  'sse',
  'in-memory',
  'websocket',
  'custom',
]);

/** Applies defaults per field; bad values are replaced by the default with one warning each. */
export function resolveOptions(options: InstrumentOptions | undefined): ResolvedOptions {
  const o = options ?? {};
  return {
    serverName: stringOption(o.serverName, 'serverName'),
    heartbeatIntervalMs: msOption(
      o.heartbeatIntervalMs,
      DEFAULT_HEARTBEAT_INTERVAL_MS,
      'heartbeatIntervalMs',
      true,
    ),
    sessionIdleTimeoutMs: msOption(
      o.sessionIdleTimeoutMs,
      DEFAULT_SESSION_IDLE_TIMEOUT_MS,
      'sessionIdleTimeoutMs',
      false,
    ),
    pendingRequestTimeoutMs: msOption(
      o.pendingRequestTimeoutMs,
      DEFAULT_PENDING_REQUEST_TIMEOUT_MS,
      'pendingRequestTimeoutMs',
      false,
    ),
    maxPendingRequests: msOption(
      o.maxPendingRequests,
      DEFAULT_MAX_PENDING_REQUESTS,
      'maxPendingRequests',
      false,
    ),
    schemaTracking: booleanOption(o.schemaTracking, true, 'schemaTracking'),
    captureSizes: booleanOption(o.captureSizes, true, 'captureSizes'),
    transportKind: transportKindOption(o.transportKind),
  };
}

function stringOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && value.length > 0) return value;
  reportWarning(`option ${name} must be a non-empty string; ignored`);
  return undefined;
}

function msOption(value: unknown, fallback: number, name: string, zeroAllowed: boolean): number {
  if (value === undefined) return fallback;
  if (
    typeof value === 'number' &&
    Number.isFinite(value) &&
    // >= 1, not > 0: flooring 0.5 would give 0, which means "off" or "expire at once".
    (value >= 1 || (zeroAllowed && value === 0))
  ) {
    return Math.floor(value);
  }
  reportWarning(
    `option ${name}=${printable(value)} must be a ${zeroAllowed ? 'number >= 0' : 'positive number'}; using ${fallback}`,
  );
  return fallback;
}

function booleanOption(value: unknown, fallback: boolean, name: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value === 'boolean') return value;
  reportWarning(`option ${name}=${printable(value)} must be a boolean; using ${String(fallback)}`);
  return fallback;
}

function transportKindOption(value: unknown): TransportKind | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' && TRANSPORT_KINDS.has(value)) return value as TransportKind;
  reportWarning(
    `option transportKind=${printable(value)} is not a known transport kind; detecting it`,
  );
  return undefined;
}

// The global `performance` (not node:perf_hooks' binding) so that fake timers can drive it.
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { EventBus } from './event-bus.js';
import type { ProxyEvent } from './events.js';
import type { LiveHooks } from './live-hooks.js';
import type { ResolvedOptions } from './options.js';
import { guarded } from './diagnostics.js';
import { PAGINATION_TTL_MS, SchemaTracker } from './schema/schema-tracker.js';

/** What the monitor needs of a live connection. */
export interface MonitoredConnection {
  /** Requests awaiting an answer, both directions. */
  readonly inFlight: number;
  /** Whether a session is open on it. */
  readonly sessionOpen: boolean;
  /** Ends expired requests and idle sessions. `now` is performance.now(). */
  sweep(now: number): void;
  /** The bus is shutting down: end the session with reason `shutdown`. */
  shutdown(): void;
  /** Ends every pending request as `closed` and stops observing (idempotent). */
  close(): void;
}

/**
 * Shared state of every connection instrumented onto one bus: counters, the schema tracker
 * (versions are per server and method, across connections), one heartbeat timer and one sweep
 * timer however many connections there are, so 10,000 sessions cost 10,000 map entries, not
 * 10,000 timers.
 */
export class Monitor {
  readonly tracker = new SchemaTracker();
  requestCount = 0;
  errorCount = 0;
  activeSessions = 0;
  /** Name for heartbeats: the first server name any connection learned. */
  serverName: string | undefined;
  private readonly connections = new Set<MonitoredConnection>();
  private readonly startedAt = performance.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private loopDelay: IntervalHistogram | undefined;
  private readonly sweepIntervalMs: number;

  constructor(
    readonly bus: EventBus,
    readonly options: ResolvedOptions,
  ) {
    this.sweepIntervalMs = Math.max(
      1_000,
      Math.min(
        60_000,
        Math.floor(
          Math.min(
            options.pendingRequestTimeoutMs,
            options.sessionIdleTimeoutMs,
            PAGINATION_TTL_MS,
          ) / 2,
        ),
      ),
    );
    if (options.heartbeatIntervalMs > 0) this.startHeartbeat(options.heartbeatIntervalMs);
    bus.onShutdown(() => this.shutdown());
  }

  /** The live hooks of the bus's sinks, looked up per message (sinks can come and go). */
  get live(): LiveHooks | undefined {
    return this.bus.liveHooks;
  }

  emit(event: ProxyEvent): void {
    this.bus.emit(event);
  }

  register(connection: MonitoredConnection): void {
    this.connections.add(connection);
    if (!this.sweepTimer) {
      this.sweepTimer = setInterval(() => this.sweep(), this.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  unregister(connection: MonitoredConnection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.tracker.openPaginations === 0) this.stopSweeping();
  }

  /** Live connections (for tests and leak checks). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Requests awaiting an answer on every live connection, both directions (heartbeats, leak checks). */
  get pendingRequests(): number {
    let pending = 0;
    for (const connection of this.connections) pending += connection.inFlight;
    return pending;
  }

  sweep(): void {
    const now = performance.now();
    for (const connection of this.connections) guarded('sweep', () => connection.sweep(now));
    this.tracker.sweep(now);
    // The timer outlived the last connection only to expire its pagination buffers: once they
    // are gone, so is it (unregister() cannot see that moment).
    if (this.connections.size === 0 && this.tracker.openPaginations === 0) this.stopSweeping();
  }

  private stopSweeping(): void {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  heartbeat(): void {
    const inFlight = this.pendingRequests;
    const memory = process.memoryUsage();
    let loopDelayMs = 0;
    if (this.loopDelay) {
      const p99 = this.loopDelay.percentile(99);
      loopDelayMs = Number.isFinite(p99) ? p99 / 1e6 : 0;
      this.loopDelay.reset();
    }
    this.emit({
      type: 'heartbeat',
      ts: Date.now(),
      server: this.options.serverName ?? this.serverName ?? 'unknown',
      uptimeSecs: Math.round((performance.now() - this.startedAt) / 1000),
      requestCount: this.requestCount,
      errorCount: this.errorCount,
      activeSessions: this.activeSessions,
      inFlightRequests: inFlight,
      droppedEvents: this.bus.droppedEvents,
      eventLoopDelayMs: loopDelayMs,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
    });
  }

  private startHeartbeat(intervalMs: number): void {
    try {
      this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
      this.loopDelay.enable();
    } catch {
      this.loopDelay = undefined;
    }
    this.heartbeatTimer = setInterval(
      () => guarded('heartbeat', () => this.heartbeat()),
      intervalMs,
    );
    this.heartbeatTimer.unref();
  }

  private shutdown(): void {
    for (const connection of this.connections) {
      guarded('session shutdown', () => connection.shutdown());
      // Requests still in flight would never end (nothing is recorded after the bus stops):
      // end them now, so their spans are exported with the rest instead of silently lost.
      guarded('session shutdown', () => connection.close());
    }
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.stopSweeping();
    this.loopDelay?.disable();
    monitors.delete(this.bus);
  }
}

const monitors = new WeakMap<EventBus, Monitor>();

/** The monitor of `bus`, created with `options` on first use (later options only add sinks). */
export function monitorFor(bus: EventBus, options: ResolvedOptions): Monitor {
  let monitor = monitors.get(bus);
  if (!monitor) {
    monitor = new Monitor(bus, options);
    monitors.set(bus, monitor);
  }
  return monitor;
}

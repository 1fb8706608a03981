import { guarded, printable, reportError, reportWarning, settleWithin } from './diagnostics.js';
import type { ProxyEvent, ProxyEventType } from './events.js';
import type { LiveHooks } from './live-hooks.js';

/**
 * A consumer of events. `onEvent` must not block: it runs on the bus's dispatch turn, never on
 * the host's message path, but a slow sink still delays the sinks after it.
 */
export interface EventSink {
  /** Name used in diagnostics. */
  readonly name: string;
  /** One event. Ignored when `onBatch` is defined. */
  onEvent(event: ProxyEvent): void;
  /** A batch of events in emission order; when defined, the bus calls it instead of `onEvent`. */
  onBatch?(events: readonly ProxyEvent[]): void;
  /** Write out anything buffered. */
  flush?(): Promise<void>;
  /** Flush and release resources; no more events follow. */
  shutdown?(): Promise<void>;
  /**
   * Synchronous hooks on the message path, for what cannot wait for the bus (the active span
   * of a handler, `_meta` trace context). The first sink on a bus that has them is used.
   */
  readonly live?: LiveHooks;
  /**
   * The event types this sink consumes; it is handed only these. When no sink on a bus takes
   * `request` events, the instrumentation neither builds what only they carry (their `id`, the
   * message sizes) nor queues them: a bus whose only sink is the OTel sink pays nothing for
   * them. @default every type
   */
  readonly eventTypes?: readonly ProxyEventType[];
}

/** Default {@link EventBusOptions.maxQueueSize}. */
export const DEFAULT_MAX_QUEUE_SIZE = 10_000;
/** Default {@link EventBusOptions.maxBatchSize}. */
export const DEFAULT_MAX_BATCH_SIZE = 256;
/** Default {@link EventBusOptions.flushIntervalMs}. */
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
/** Default {@link EventBusOptions.shutdownTimeoutMs}. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5_000;

/** Options of {@link EventBus}. */
export interface EventBusOptions {
  /** Sinks that receive every event. @default [] */
  sinks?: readonly EventSink[];
  /** Events held before dispatch; beyond it new events are dropped and counted. @default 10_000 */
  maxQueueSize?: number;
  /** Most events handed to a sink in one `onBatch` call. @default 256 */
  maxBatchSize?: number;
  /** How often sinks' `flush()` runs; 0 turns the timer off. @default 5_000 */
  flushIntervalMs?: number;
  /** Upper bound on `shutdown()` (and on each sink's `flush`/`shutdown` inside it). @default 5_000 */
  shutdownTimeoutMs?: number;
  /**
   * Drain on SIGTERM/SIGINT/beforeExit. When the host has no handler of its own for the signal,
   * the bus shuts down (bounded) and then re-raises it, so the process ends as it would have.
   * @default false (true for the process-wide default bus)
   */
  handleProcessSignals?: boolean;
}

type ShutdownHook = () => void;

/**
 * Share of `shutdownTimeoutMs` a sink's `flush()` may take inside `shutdown()` when the sink
 * also has `shutdown()`, which gets the rest (the OTel sink's stops exporting and counts what is
 * left well within it).
 */
const SHUTDOWN_FLUSH_SHARE = 0.4;

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * Bounded, batched, never-blocking event bus. `emit()` is synchronous and O(1): it pushes on a
 * bounded queue and schedules one dispatch per burst with `setImmediate`, so sinks never run in
 * the caller's stack. Overflow drops and counts; the first drop is reported once.
 *
 * @example
 * const bus = new EventBus({ sinks: [createConsoleSink()] });
 * instrument(server, { bus });
 */
export class EventBus {
  private readonly sinks: EventSink[];
  private readonly maxQueueSize: number;
  private readonly maxBatchSize: number;
  private readonly shutdownTimeoutMs: number;
  private queue: ProxyEvent[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private dropped = 0;
  private dropReported = false;
  private closed = false;
  private flushing: Promise<void> | undefined;
  /** Events were dispatched after the running flush started its sinks' `flush()`. */
  private dispatchedSinceFlush = false;
  /** The run queued behind the running one, shared by every caller meanwhile. */
  private flushAgain: Promise<void> | undefined;
  private shuttingDown: Promise<void> | undefined;
  private readonly flushTimer: NodeJS.Timeout | undefined;
  private readonly shutdownHooks = new Set<ShutdownHook>();
  private readonly signalHandlers: Array<[string, (...args: unknown[]) => void]> = [];
  private live: LiveHooks | undefined;
  /** Event types at least one sink takes. */
  private wanted = new Set<ProxyEventType>();
  /** The types each sink declared, read once when it was attached (undefined: all of them). */
  private filters = new Map<EventSink, ReadonlySet<ProxyEventType> | undefined>();

  constructor(options: EventBusOptions = {}) {
    this.sinks = [...(options.sinks ?? [])];
    this.sinksChanged();
    this.maxQueueSize = positiveInt(options.maxQueueSize, DEFAULT_MAX_QUEUE_SIZE, 'maxQueueSize');
    this.maxBatchSize = positiveInt(options.maxBatchSize, DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize');
    this.shutdownTimeoutMs = positiveInt(
      options.shutdownTimeoutMs,
      DEFAULT_SHUTDOWN_TIMEOUT_MS,
      'shutdownTimeoutMs',
    );
    const interval = nonNegativeInt(
      options.flushIntervalMs,
      DEFAULT_FLUSH_INTERVAL_MS,
      'flushIntervalMs',
    );
    if (interval > 0) {
      this.flushTimer = setInterval(() => void this.flush(), interval);
      this.flushTimer.unref();
    }
    if (options.handleProcessSignals === true) this.installProcessHandlers();
  }

  /** Events dropped so far because the queue was full. */
  get droppedEvents(): number {
    return this.dropped;
  }

  /** Events waiting for dispatch. */
  get queuedEvents(): number {
    return this.queue.length;
  }

  /** Whether `shutdown()` has been called. */
  get isShutdown(): boolean {
    return this.closed;
  }

  /** Adds a sink (once: adding the same object again does nothing). */
  addSink(sink: EventSink): void {
    if (this.closed || this.sinks.includes(sink)) return;
    this.sinks.push(sink);
    this.sinksChanged();
  }

  /** Removes a sink; it receives no further events. */
  removeSink(sink: EventSink): void {
    const index = this.sinks.indexOf(sink);
    if (index >= 0) this.sinks.splice(index, 1);
    this.sinksChanged();
  }

  /** The live hooks of the first sink that has them. */
  get liveHooks(): LiveHooks | undefined {
    return this.closed ? undefined : this.live;
  }

  private sinksChanged(): void {
    this.live = this.sinks.find((sink) => sink.live !== undefined)?.live;
    const wanted = new Set<ProxyEventType>();
    const filters = new Map<EventSink, ReadonlySet<ProxyEventType> | undefined>();
    for (const sink of this.sinks) {
      const types = this.filters.has(sink) ? this.filters.get(sink) : declaredTypes(sink);
      filters.set(sink, types);
      for (const type of types ?? EVENT_TYPES) wanted.add(type);
    }
    this.filters = filters;
    this.wanted = wanted;
  }

  /** Whether any sink is attached. */
  get hasSinks(): boolean {
    return this.sinks.length > 0;
  }

  /** Whether any sink takes events of `type`; producers may skip building the others. */
  wants(type: ProxyEventType): boolean {
    return this.wanted.has(type);
  }

  /**
   * Queues one event. Synchronous, O(1), never throws; a no-op after `shutdown()` and for
   * events no sink takes.
   */
  emit(event: ProxyEvent): void {
    if (this.closed || !this.wanted.has(event.type)) return;
    if (this.queue.length >= this.maxQueueSize) {
      this.dropped++;
      if (!this.dropReported) {
        this.dropReported = true;
        reportWarning(
          `event queue full (${this.maxQueueSize}); dropping events. The count is in heartbeat.droppedEvents.`,
        );
      }
      return;
    }
    this.queue.push(event);
    if (this.scheduled === undefined) this.scheduled = setImmediate(this.dispatchScheduled);
    // A host that only chains promises (in-memory calls in a tight loop) never yields to the
    // check phase, so setImmediate alone would let the queue fill; a full batch is dispatched
    // on a microtask instead: still never in the caller's stack.
    if (this.queue.length === this.maxBatchSize && !this.microtaskScheduled) {
      this.microtaskScheduled = true;
      queueMicrotask(this.dispatchMicrotask);
    }
  }

  private microtaskScheduled = false;

  private readonly dispatchMicrotask = (): void => {
    this.microtaskScheduled = false;
    this.dispatchNow();
  };

  /**
   * Registers a function that runs once at the start of `shutdown()`, before the final drain
   * (instrumentations end their open sessions there). Returns a function that unregisters it.
   */
  onShutdown(hook: () => void): () => void {
    this.shutdownHooks.add(hook);
    return () => this.shutdownHooks.delete(hook);
  }

  /**
   * Dispatches everything queued, then runs every sink's `flush()`. Concurrent calls share one
   * run; after `shutdown()` it returns the shutdown's promise (the sinks are already flushed).
   */
  flush(): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    this.dispatchNow();
    if (this.flushing) {
      if (!this.dispatchedSinceFlush) return this.flushing;
      // The running sinks' flush() started before these events reached them: one more run
      // after it, so the caller's events are flushed when its promise resolves.
      this.flushAgain ??= this.flushing.then(() => {
        this.flushAgain = undefined;
        return this.flush();
      });
      return this.flushAgain;
    }
    this.dispatchedSinceFlush = false;
    const run = Promise.all(
      this.sinks.map((sink) =>
        sink.flush
          ? settleWithin(`sink ${sink.name} flush`, () => sink.flush?.(), this.shutdownTimeoutMs)
          : Promise.resolve(),
      ),
    ).then(() => undefined);
    this.flushing = run.finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /**
   * Ends open sessions (via shutdown hooks), drains the queue, then flushes and shuts down every
   * sink, within `shutdownTimeoutMs` overall. Idempotent; `emit()` is a no-op afterwards.
   */
  shutdown(): Promise<void> {
    if (this.shuttingDown) return this.shuttingDown;
    // Set before the hooks run, so a hook that calls shutdown() (or flush()) gets this promise
    // instead of re-running the hooks and shutting the sinks down twice.
    let settle!: (done: Promise<void>) => void;
    this.shuttingDown = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const hooks = [...this.shutdownHooks];
    this.shutdownHooks.clear();
    for (const hook of hooks) guarded('shutdown hook', hook);
    this.dispatchNow();
    this.closed = true;
    if (this.flushTimer) clearInterval(this.flushTimer);
    this.removeProcessHandlers();
    const sinks = [...this.sinks];
    const deadline = performance.now() + this.shutdownTimeoutMs;
    const remaining = (): number => Math.max(1, Math.ceil(deadline - performance.now()));
    // A sink's flush gets a share of the bound, never all of it: a flush stuck on a hanging
    // collector must leave its shutdown() the time to give up and count what it drops.
    const flushBound = Math.max(1, Math.floor(this.shutdownTimeoutMs * SHUTDOWN_FLUSH_SHARE));
    settle(
      settleWithin(
        'event bus shutdown',
        () =>
          Promise.all(
            sinks.map(async (sink) => {
              if (sink.flush) {
                await settleWithin(
                  `sink ${sink.name} flush`,
                  () => sink.flush?.(),
                  sink.shutdown ? flushBound : remaining(),
                );
              }
              if (sink.shutdown) {
                await settleWithin(
                  `sink ${sink.name} shutdown`,
                  () => sink.shutdown?.(),
                  remaining(),
                );
              }
            }),
          ),
        this.shutdownTimeoutMs,
      ),
    );
    return this.shuttingDown;
  }

  private readonly dispatchScheduled = (): void => {
    this.scheduled = undefined;
    this.dispatchNow();
  };

  private dispatchNow(): void {
    if (this.scheduled !== undefined) {
      clearImmediate(this.scheduled);
      this.scheduled = undefined;
    }
    if (this.queue.length === 0) return;
    const events = this.queue;
    this.queue = [];
    if (this.flushing) this.dispatchedSinceFlush = true;
    for (let start = 0; start < events.length; start += this.maxBatchSize) {
      const batch =
        start === 0 && events.length <= this.maxBatchSize
          ? events
          : events.slice(start, start + this.maxBatchSize);
      for (const sink of this.sinks) deliver(sink, batch, this.filters.get(sink));
    }
  }

  private installProcessHandlers(): void {
    for (const signal of SIGNALS) {
      const handler = (): void => this.onSignal(signal, handler);
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    }
    const beforeExit = (): void => {
      // The loop ran out of work: the process is ending. End open sessions (a transport that
      // never closes, such as SDK 1.x stdio, would otherwise leave them open) and drain. The
      // shutdown's own I/O keeps the process alive until it is done (bounded).
      void this.shutdown();
    };
    process.on('beforeExit', beforeExit);
    this.signalHandlers.push(['beforeExit', beforeExit]);
  }

  private removeProcessHandlers(): void {
    for (const [event, handler] of this.signalHandlers) process.removeListener(event, handler);
    this.signalHandlers.length = 0;
  }

  private onSignal(signal: (typeof SIGNALS)[number], handler: () => void): void {
    const hostHandles = process.listenerCount(signal) > 1;
    if (hostHandles) {
      // The host decides what the signal means; we only make sure telemetry is out.
      void this.flush();
      return;
    }
    // We are the only listener, so without us the process would have died: drain (bounded),
    // then re-raise with the default action so the exit status is what it would have been.
    process.removeListener(signal, handler);
    void this.shutdown().finally(() => process.kill(process.pid, signal));
  }
}

/** Every event type (a record, so the compiler checks none is missing): a sink without `eventTypes` takes them all. */
const ALL_TYPES: Record<ProxyEventType, true> = {
  request: true,
  session_start: true,
  session_end: true,
  heartbeat: true,
  schema_version_created: true,
};
const EVENT_TYPES = Object.keys(ALL_TYPES) as ProxyEventType[];

/**
 * The types a sink declared, checked: a sink's own property is an extension point, so a getter
 * that throws or a value that is not a list of event types is reported and the sink gets every
 * event, never an exception in the host's `new EventBus()` or `addSink()`.
 */
function declaredTypes(sink: EventSink): ReadonlySet<ProxyEventType> | undefined {
  let declared: unknown;
  try {
    declared = sink.eventTypes;
  } catch (error) {
    reportError(`sink ${printable(sink.name)} eventTypes (it gets every event)`, error);
    return undefined;
  }
  if (declared === undefined) return undefined;
  if (!Array.isArray(declared)) {
    reportWarning(
      `sink ${printable(sink.name)}: eventTypes=${printable(declared)} is not an array of event types; it gets every event`,
    );
    return undefined;
  }
  const types = new Set<ProxyEventType>();
  for (const type of declared as unknown[]) {
    if (typeof type === 'string' && Object.hasOwn(ALL_TYPES, type)) {
      types.add(type as ProxyEventType);
    } else {
      reportWarning(
        `sink ${printable(sink.name)}: ${printable(type)} is not an event type (${EVENT_TYPES.join(', ')}); ignored`,
      );
    }
  }
  return types;
}

function deliver(
  sink: EventSink,
  all: readonly ProxyEvent[],
  types: ReadonlySet<ProxyEventType> | undefined,
): void {
  const batch =
    types && all.some((e) => !types.has(e.type)) ? all.filter((e) => types.has(e.type)) : all;
  if (batch.length === 0) return;
  if (sink.onBatch) {
    guarded(`sink ${sink.name} onBatch`, () => sink.onBatch?.(batch));
    return;
  }
  for (const event of batch) guarded(`sink ${sink.name} onEvent`, () => sink.onEvent(event));
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (Number.isFinite(value) && value >= 1) return Math.floor(value);
  reportWarning(
    `EventBus option ${name}=${printable(value)} is not a positive number; using ${fallback}`,
  );
  return fallback;
}

function nonNegativeInt(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  // 0 exactly, or >= 1: flooring 0.5 would silently turn the timer off.
  if (Number.isFinite(value) && (value === 0 || value >= 1)) return Math.floor(value);
  reportWarning(
    `EventBus option ${name}=${printable(value)} is not a number >= 0; using ${fallback}`,
  );
  return fallback;
}

let defaultBus: EventBus | undefined;

/** The process-wide bus that `instrument()` uses unless given one. Created on first use. */
export function getDefaultBus(): EventBus {
  if (!defaultBus || defaultBus.isShutdown) {
    defaultBus = new EventBus({ handleProcessSignals: true });
  }
  return defaultBus;
}

/**
 * Dispatches queued events and flushes every sink of the default bus.
 * @example await flush();
 */
export function flush(): Promise<void> {
  return defaultBus ? defaultBus.flush() : Promise.resolve();
}

/**
 * Ends open sessions, drains and shuts down the default bus and its sinks (bounded by 5 s).
 * @example process.on('SIGTERM', () => void shutdown().then(() => process.exit(0)));
 */
export function shutdown(): Promise<void> {
  return defaultBus ? defaultBus.shutdown() : Promise.resolve();
}

import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_FLUSH_INTERVAL_MS,
  DEFAULT_MAX_BATCH_SIZE,
  DEFAULT_MAX_QUEUE_SIZE,
  EventBus,
  type EventBusOptions,
  type EventSink,
} from '../../src/event-bus.js';
import { setDiagnosticLogger } from '../../src/diagnostics.js';
import { createMemorySink } from '../../src/sinks/memory-sink.js';
import type { HeartbeatEvent, ProxyEvent } from '../../src/events.js';
import type { LiveHooks } from '../../src/live-hooks.js';

/** A heartbeat whose `ts` identifies it. */
function event(n: number): HeartbeatEvent {
  return {
    type: 'heartbeat',
    ts: n,
    server: 'test',
    uptimeSecs: 0,
    requestCount: 0,
    errorCount: 0,
    activeSessions: 0,
    inFlightRequests: 0,
    droppedEvents: 0,
    eventLoopDelayMs: 0,
    rssBytes: 0,
    heapUsedBytes: 0,
  };
}

const ids = (events: readonly ProxyEvent[]): number[] => events.map((e) => e.ts);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from }, (_, i) => from + i);

interface Recorder extends EventSink {
  readonly events: ProxyEvent[];
  readonly batches: ProxyEvent[][];
}

/** A sink that records batches (onBatch) or single events (onEvent only). */
function recorder(name = 'recorder', mode: 'batch' | 'event' = 'batch'): Recorder {
  const events: ProxyEvent[] = [];
  const batches: ProxyEvent[][] = [];
  const sink: Recorder = {
    name,
    events,
    batches,
    onEvent(e) {
      events.push(e);
    },
  };
  if (mode === 'batch') {
    sink.onBatch = (batch) => {
      batches.push([...batch]);
      events.push(...batch);
    };
  }
  return sink;
}

function captureDiagnostics(): { warnings: string[]; errors: string[] } {
  const captured = { warnings: [] as string[], errors: [] as string[] };
  setDiagnosticLogger({
    warn: (message) => captured.warnings.push(message),
    error: (message) => captured.errors.push(message),
  });
  return captured;
}

const buses: EventBus[] = [];
function makeBus(options: EventBusOptions): EventBus {
  const bus = new EventBus({ flushIntervalMs: 0, ...options });
  buses.push(bus);
  return bus;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A promise whose settlement the test controls. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(buses.splice(0).map((bus) => bus.shutdown()));
  setDiagnosticLogger(undefined);
});

describe('EventBus dispatch', () => {
  it('emit returns at once; sinks run on a later turn, never in the caller stack', async () => {
    const calls: Array<{ ts: number; inEmit: boolean }> = [];
    let inEmit = false;
    const sink: EventSink = {
      name: 'probe',
      onEvent: (e) => calls.push({ ts: e.ts, inEmit }),
    };
    const bus = makeBus({ sinks: [sink] });
    inEmit = true;
    bus.emit(event(1));
    bus.emit(event(2));
    inEmit = false;
    expect(calls).toEqual([]);
    expect(bus.queuedEvents).toBe(2);
    await Promise.resolve(); // a microtask is not enough: dispatch is on setImmediate
    expect(calls).toEqual([]);
    await nextTurn();
    expect(calls).toEqual([
      { ts: 1, inEmit: false },
      { ts: 2, inEmit: false },
    ]);
    expect(bus.queuedEvents).toBe(0);
  });

  it('flush() dispatches what is queued before it resolves', async () => {
    const sink = recorder();
    const bus = makeBus({ sinks: [sink] });
    bus.emit(event(1));
    const flushed = bus.flush();
    expect(ids(sink.events)).toEqual([1]);
    await flushed;
    expect(ids(sink.events)).toEqual([1]);
  });

  it('hands out batches of at most maxBatchSize, in emission order', async () => {
    const batching = recorder('batching');
    const single = recorder('single', 'event');
    const bus = makeBus({ sinks: [batching, single], maxBatchSize: 3 });
    for (const n of range(0, 10)) bus.emit(event(n));
    await bus.flush();
    expect(batching.batches.map((b) => b.length)).toEqual([3, 3, 3, 1]);
    expect(ids(batching.events)).toEqual(range(0, 10));
    expect(ids(single.events)).toEqual(range(0, 10));
  });

  it('drops and counts events beyond maxQueueSize and reports it once', async () => {
    const diagnostics = captureDiagnostics();
    const sink = recorder();
    const bus = makeBus({ sinks: [sink], maxQueueSize: 5 });
    for (const n of range(0, 8)) bus.emit(event(n));
    expect(bus.queuedEvents).toBe(5);
    expect(bus.droppedEvents).toBe(3);
    await bus.flush();
    expect(ids(sink.events)).toEqual(range(0, 5));

    for (const n of range(10, 18)) bus.emit(event(n));
    await bus.flush();
    expect(bus.droppedEvents).toBe(6);
    expect(ids(sink.events)).toEqual([...range(0, 5), ...range(10, 15)]);
    const reports = diagnostics.warnings.filter((w) => w.includes('queue full'));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toContain('5');
  });
});

describe('EventBus sink isolation', () => {
  it('a sink that throws or rejects starves no other sink and never reaches the caller', async () => {
    const diagnostics = captureDiagnostics();
    const throwsOnEvent: EventSink = {
      name: 'throws-on-event',
      onEvent() {
        throw new Error('onEvent boom');
      },
      flush() {
        throw new Error('flush boom');
      },
    };
    const throwsOnBatch: EventSink = {
      name: 'throws-on-batch',
      onEvent() {},
      onBatch() {
        throw new Error('onBatch boom');
      },
      flush: () => Promise.reject(new Error('flush rejected')),
    };
    const rejects: EventSink = {
      name: 'rejects',
      onEvent() {},
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a sink breaking the contract
      onBatch: () => Promise.reject(new Error('async onBatch boom')),
    };
    const good = recorder('good');
    const bus = makeBus({
      sinks: [throwsOnEvent, throwsOnBatch, rejects, good],
      maxBatchSize: 2,
    });
    for (const n of range(0, 5)) expect(() => bus.emit(event(n))).not.toThrow();
    await expect(bus.flush()).resolves.toBeUndefined();
    await nextTurn(); // rejections of onBatch are reported asynchronously
    expect(ids(good.events)).toEqual(range(0, 5));
    const joined = diagnostics.errors.join('\n');
    expect(joined).toContain('sink throws-on-event onEvent: onEvent boom');
    expect(joined).toContain('sink throws-on-batch onBatch: onBatch boom');
    expect(joined).toContain('sink rejects onBatch: async onBatch boom');
    expect(joined).toContain('flush boom');
    expect(joined).toContain('flush rejected');
    // One report per failing call: 5 events, 3 batches.
    expect(diagnostics.errors.filter((e) => e.includes('onEvent boom'))).toHaveLength(5);
    expect(
      diagnostics.errors.filter((e) => e.includes('sink throws-on-batch onBatch')),
    ).toHaveLength(3);
    await expect(bus.shutdown()).resolves.toBeUndefined();
  });

  it('a diagnostic logger that throws does not reach the caller either', async () => {
    setDiagnosticLogger({
      warn() {
        throw new Error('logger boom');
      },
      error() {
        throw new Error('logger boom');
      },
    });
    const bus = makeBus({
      sinks: [
        {
          name: 'bad',
          onEvent() {
            throw new Error('sink boom');
          },
        },
      ],
      maxQueueSize: 1,
    });
    bus.emit(event(1));
    expect(() => bus.emit(event(2))).not.toThrow();
    await expect(bus.flush()).resolves.toBeUndefined();
  });
});

describe('EventBus flush and shutdown', () => {
  it('concurrent flush() calls share one promise; later calls run again', async () => {
    let flushes = 0;
    const sink: EventSink = {
      name: 'counting',
      onEvent() {},
      flush: async () => {
        flushes++;
        await nextTurn();
      },
    };
    const bus = makeBus({ sinks: [sink] });
    const first = bus.flush();
    expect(bus.flush()).toBe(first);
    await first;
    expect(flushes).toBe(1);
    await bus.flush();
    expect(flushes).toBe(2);
  });

  it('a flush() called while one runs still covers events emitted since it started', async () => {
    const gate = deferred();
    const log: string[] = [];
    let calls = 0;
    const sink: EventSink = {
      name: 'slow-flush',
      onEvent: (e) => log.push(`event ${e.ts}`),
      flush: () => {
        calls++;
        log.push(`flush ${calls}`);
        return calls === 1 ? gate.promise : Promise.resolve();
      },
    };
    const bus = makeBus({ sinks: [sink] });
    const first = bus.flush(); // e.g. the periodic flush, stuck on a slow exporter
    await nextTurn();
    expect(log).toEqual(['flush 1']);
    bus.emit(event(7));
    const second = bus.flush(); // the user's flush after emitting
    expect(log).toContain('event 7'); // dispatched at once, not left to the next turn
    let secondDone = false;
    void second.then(() => (secondDone = true));
    await nextTurn();
    expect(secondDone).toBe(false); // must not resolve with the stale run
    gate.resolve();
    await Promise.all([first, second]);
    expect(log).toEqual(['flush 1', 'event 7', 'flush 2']);
  });

  it('shutdown() is idempotent and emit afterwards is a no-op', async () => {
    let shutdowns = 0;
    const sink = recorder();
    const withShutdown: EventSink = {
      ...sink,
      onBatch: sink.onBatch!,
      shutdown: () => {
        shutdowns++;
        return Promise.resolve();
      },
    };
    const bus = makeBus({ sinks: [withShutdown] });
    bus.emit(event(1));
    const first = bus.shutdown();
    expect(bus.shutdown()).toBe(first);
    expect(bus.isShutdown).toBe(true);
    await first;
    await expect(bus.shutdown()).resolves.toBeUndefined();
    expect(shutdowns).toBe(1);
    expect(ids(sink.events)).toEqual([1]);

    bus.emit(event(2));
    expect(bus.queuedEvents).toBe(0);
    expect(bus.droppedEvents).toBe(0);
    await nextTurn();
    await bus.flush();
    expect(ids(sink.events)).toEqual([1]);
  });

  it('flush() after shutdown() does not flush sinks that were shut down', async () => {
    const log: string[] = [];
    const sink: EventSink = {
      name: 'ordered',
      onEvent() {},
      flush: () => {
        log.push('flush');
        return Promise.resolve();
      },
      shutdown: () => {
        log.push('shutdown');
        return Promise.resolve();
      },
    };
    const bus = makeBus({ sinks: [sink] });
    await bus.shutdown();
    await bus.flush();
    expect(log).toEqual(['flush', 'shutdown']);
  });

  it('runs onShutdown hooks before the final drain, then flushes and shuts sinks down', async () => {
    const diagnostics = captureDiagnostics();
    const log: string[] = [];
    const sink: EventSink = {
      name: 'ordered',
      onEvent: (e) => log.push(`event ${e.ts}`),
      flush: () => {
        log.push('flush');
        return Promise.resolve();
      },
      shutdown: () => {
        log.push('shutdown');
        return Promise.resolve();
      },
    };
    const bus = makeBus({ sinks: [sink] });
    bus.onShutdown(() => {
      throw new Error('hook boom');
    });
    bus.onShutdown(() => bus.emit(event(42))); // e.g. session_end of open sessions
    const unregister = bus.onShutdown(() => log.push('unregistered hook ran'));
    unregister();
    bus.emit(event(1));
    await bus.shutdown();
    expect(log).toEqual(['event 1', 'event 42', 'flush', 'shutdown']);
    expect(diagnostics.errors.join('\n')).toContain('shutdown hook: hook boom');
  });

  it('a hook that calls shutdown() again gets the same promise; sinks shut down once', async () => {
    let shutdowns = 0;
    const sink: EventSink = {
      name: 'once',
      onEvent() {},
      shutdown: () => {
        shutdowns++;
        return Promise.resolve();
      },
    };
    const bus = makeBus({ sinks: [sink] });
    let inner: Promise<void> | undefined;
    bus.onShutdown(() => {
      inner = bus.shutdown();
    });
    const outer = bus.shutdown();
    expect(inner).toBe(outer);
    await outer;
    expect(shutdowns).toBe(1);
  });

  it('shutdown() resolves within shutdownTimeoutMs when a sink never settles', async () => {
    vi.useFakeTimers();
    const diagnostics = captureDiagnostics();
    const received = recorder('hangs');
    const hangs: EventSink = {
      ...received,
      onBatch: received.onBatch!,
      flush: () => new Promise<void>(() => {}),
      shutdown: () => new Promise<void>(() => {}),
    };
    const good = recorder('good');
    const bus = makeBus({ sinks: [hangs, good], shutdownTimeoutMs: 1_000 });
    bus.emit(event(1));
    let done = false;
    void bus.shutdown().then(() => (done = true));
    expect(ids(good.events)).toEqual([1]);
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2);
    expect(done).toBe(true);
    expect(diagnostics.warnings.join('\n')).toMatch(/did not settle within 1000 ms/);
  });

  it('a sink whose shutdown() never settles does not hold shutdown() past the bound', async () => {
    vi.useFakeTimers();
    captureDiagnostics();
    const bus = makeBus({
      sinks: [{ name: 'hangs', onEvent() {}, shutdown: () => new Promise<void>(() => {}) }],
      shutdownTimeoutMs: 500,
    });
    let done = false;
    void bus.shutdown().then(() => (done = true));
    await vi.advanceTimersByTimeAsync(501);
    expect(done).toBe(true);
  });

  it('flushes sinks every flushIntervalMs until shutdown; 0 turns the timer off', async () => {
    vi.useFakeTimers();
    let flushes = 0;
    let offFlushes = 0;
    const bus = makeBus({
      sinks: [{ name: 'periodic', onEvent() {}, flush: () => Promise.resolve(void flushes++) }],
      flushIntervalMs: 1_000,
    });
    makeBus({
      sinks: [{ name: 'off', onEvent() {}, flush: () => Promise.resolve(void offFlushes++) }],
      flushIntervalMs: 0,
    });
    await vi.advanceTimersByTimeAsync(3_500);
    expect(flushes).toBe(3);
    await bus.shutdown(); // flushes once more, then stops the timer
    expect(flushes).toBe(4);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(flushes).toBe(4);
    expect(offFlushes).toBe(0);
  });

  it('the periodic flush dispatches queued events too', async () => {
    vi.useFakeTimers();
    const sink = recorder();
    const bus = makeBus({ sinks: [sink], flushIntervalMs: 1_000 });
    bus.emit(event(1));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(ids(sink.events)).toEqual([1]);
  });
});

describe('EventBus options and sinks', () => {
  it('bad option values fall back to the defaults with a warning, never a throw', async () => {
    const diagnostics = captureDiagnostics();
    const sink = recorder();
    let bus: EventBus | undefined;
    expect(() => {
      bus = makeBus({
        sinks: [sink],
        maxQueueSize: -1,
        maxBatchSize: Number.NaN,
        flushIntervalMs: -5,
        shutdownTimeoutMs: Number.POSITIVE_INFINITY,
      });
    }).not.toThrow();
    expect(diagnostics.warnings).toHaveLength(4);
    for (const name of ['maxQueueSize', 'maxBatchSize', 'flushIntervalMs', 'shutdownTimeoutMs']) {
      expect(diagnostics.warnings.join('\n')).toContain(name);
    }
    const total = DEFAULT_MAX_QUEUE_SIZE + 1;
    for (const n of range(0, total)) bus!.emit(event(n));
    expect(bus!.queuedEvents).toBe(DEFAULT_MAX_QUEUE_SIZE);
    expect(bus!.droppedEvents).toBe(1);
    await bus!.flush();
    expect(sink.batches[0]).toHaveLength(DEFAULT_MAX_BATCH_SIZE);
    expect(sink.events).toHaveLength(DEFAULT_MAX_QUEUE_SIZE);
  });

  it('NaN, zero and fractions that floor to zero are rejected too', async () => {
    vi.useFakeTimers();
    const diagnostics = captureDiagnostics();
    let flushes = 0;
    makeBus({
      sinks: [{ name: 'f', onEvent() {}, flush: () => Promise.resolve(void flushes++) }],
      maxQueueSize: Number.NaN,
      maxBatchSize: 0,
      flushIntervalMs: 0.5, // not "off": the default period applies
      shutdownTimeoutMs: 0.5,
    });
    expect(diagnostics.warnings).toHaveLength(4);
    await vi.advanceTimersByTimeAsync(DEFAULT_FLUSH_INTERVAL_MS);
    expect(flushes).toBe(1);
  });

  it('adds a sink once, removes it, and ignores additions after shutdown', async () => {
    const sink = recorder();
    const bus = makeBus({});
    expect(bus.hasSinks).toBe(false);
    bus.addSink(sink);
    bus.addSink(sink);
    expect(bus.hasSinks).toBe(true);
    bus.emit(event(1));
    await bus.flush();
    expect(ids(sink.events)).toEqual([1]);
    bus.removeSink(sink);
    bus.emit(event(2));
    await bus.flush();
    expect(ids(sink.events)).toEqual([1]);
    await bus.shutdown();
    bus.addSink(sink);
    expect(bus.hasSinks).toBe(false);
  });

  it('a sink with eventTypes is handed only those; wants() follows the sinks attached', async () => {
    const sessions = recorder('sessions');
    const narrowed: EventSink = { ...sessions, eventTypes: ['session_start'] };
    const bus = makeBus({ sinks: [narrowed] });
    expect(bus.wants('session_start')).toBe(true);
    expect(bus.wants('heartbeat')).toBe(false);
    expect(bus.wants('request')).toBe(false);
    const start: ProxyEvent = {
      type: 'session_start',
      sessionId: 's',
      server: 'x',
      ts: 100,
      clientName: undefined,
      clientVersion: undefined,
      clientPlatform: 'unknown',
      protocolVersion: undefined,
      transport: 'in-memory',
      serverName: undefined,
      serverVersion: undefined,
      role: 'server',
    };
    // A heartbeat nobody takes is not even queued.
    bus.emit(event(1));
    expect(bus.queuedEvents).toBe(0);
    bus.emit(start);
    await bus.flush();
    expect(sessions.events).toEqual([start]);

    // A sink without eventTypes takes everything; the narrowed one still gets only its type.
    const all = recorder('all');
    bus.addSink(all);
    expect(bus.wants('heartbeat')).toBe(true);
    expect(bus.wants('request')).toBe(true);
    bus.emit(event(2));
    bus.emit(start);
    await bus.flush();
    expect(ids(all.events)).toEqual([2, 100]);
    expect(sessions.events).toEqual([start, start]);
    bus.removeSink(all);
    expect(bus.wants('heartbeat')).toBe(false);
  });

  it('an eventTypes that throws, is not an array or names no event type never throws into the host', async () => {
    const captured = captureDiagnostics();
    const throwing = recorder('throwing');
    Object.defineProperty(throwing, 'eventTypes', {
      get() {
        throw new Error('eventTypes broke');
      },
    });
    const stringy: Recorder = Object.assign(recorder('stringy'), { eventTypes: 'heartbeat' });
    const odd: Recorder = Object.assign(recorder('odd'), { eventTypes: ['heartbeat', 'nope', 7] });
    let bus: EventBus | undefined;
    expect(() => {
      bus = makeBus({ sinks: [throwing, stringy] });
      bus.addSink(odd);
    }).not.toThrow();
    bus?.emit(event(1));
    await bus?.flush();
    // The first two get every event, the third the one valid type it named.
    expect(ids(throwing.events)).toEqual([1]);
    expect(ids(stringy.events)).toEqual([1]);
    expect(ids(odd.events)).toEqual([1]);
    expect(captured.errors.join('\n')).toMatch(/sink throwing eventTypes.*eventTypes broke/);
    expect(captured.warnings.join('\n')).toMatch(
      /sink stringy: eventTypes=heartbeat is not an array/,
    );
    expect(captured.warnings.join('\n')).toMatch(/sink odd: nope is not an event type/);
    expect(captured.warnings.join('\n')).toMatch(/sink odd: 7 is not an event type/);
  });

  it('liveHooks are those of the first sink that has them, none after shutdown', async () => {
    const hooksA: LiveHooks = { start: () => 'a', end() {} };
    const hooksB: LiveHooks = { start: () => 'b', end() {} };
    const plain = recorder();
    const a: EventSink = { name: 'a', onEvent() {}, live: hooksA };
    const b: EventSink = { name: 'b', onEvent() {}, live: hooksB };
    const bus = makeBus({ sinks: [plain] });
    expect(bus.liveHooks).toBeUndefined();
    bus.addSink(a);
    bus.addSink(b);
    expect(bus.liveHooks).toBe(hooksA);
    bus.removeSink(a);
    expect(bus.liveHooks).toBe(hooksB);
    expect(makeBus({ sinks: [plain, b, a] }).liveHooks).toBe(hooksB);
    await bus.shutdown();
    expect(bus.liveHooks).toBeUndefined();
  });
});

describe('EventBus under a promise-only burst', () => {
  it('dispatches full batches on a microtask, so a host that never yields loses nothing', async () => {
    const sink = createMemorySink({ maxEvents: 100_000 });
    const bus = makeBus({ sinks: [sink], maxQueueSize: 1_000 });
    for (let i = 0; i < 20_000; i++) {
      bus.emit(event(i));
      await Promise.resolve(); // like chained in-memory calls: microtasks only
    }
    expect(bus.droppedEvents).toBe(0);
    await bus.flush();
    expect(sink.events).toHaveLength(20_000);
    expect(ids(sink.events).slice(0, 3)).toEqual([0, 1, 2]);
  });
});

describe('EventBus process signals', () => {
  const events = ['SIGTERM', 'SIGINT', 'beforeExit'] as const;
  const counts = (): number[] => events.map((e) => process.listenerCount(e));

  it('installs SIGTERM/SIGINT/beforeExit listeners and removes them on shutdown', async () => {
    const before = counts();
    const bus = makeBus({ handleProcessSignals: true });
    expect(counts()).toEqual(before.map((n) => n + 1));
    await bus.shutdown();
    expect(counts()).toEqual(before);
    const off = makeBus({});
    expect(counts()).toEqual(before);
    await off.shutdown();
  });

  it('when the host handles SIGTERM itself, the bus only flushes', async () => {
    let hostCalls = 0;
    const hostHandler = (): void => void hostCalls++;
    process.on('SIGTERM', hostHandler);
    try {
      let flushes = 0;
      const sink = recorder();
      const bus = makeBus({
        sinks: [{ ...sink, onBatch: sink.onBatch!, flush: () => Promise.resolve(void flushes++) }],
        handleProcessSignals: true,
      });
      bus.emit(event(1));
      process.emit('SIGTERM', 'SIGTERM');
      expect(hostCalls).toBe(1);
      expect(ids(sink.events)).toEqual([1]); // dispatched at once by the flush
      await nextTurn();
      expect(flushes).toBe(1);
      expect(bus.isShutdown).toBe(false);
      bus.emit(event(2));
      await bus.flush();
      expect(ids(sink.events)).toEqual([1, 2]);
      await bus.shutdown();
    } finally {
      process.removeListener('SIGTERM', hostHandler);
    }
  });

  it('beforeExit ends open sessions and drains once: the process is ending', async () => {
    const before = new Set(process.listeners('beforeExit'));
    let flushes = 0;
    let shutdowns = 0;
    const sink = createMemorySink();
    const bus = makeBus({
      sinks: [
        sink,
        {
          name: 'f',
          onEvent() {},
          flush: () => Promise.resolve(void flushes++),
          shutdown: () => Promise.resolve(void shutdowns++),
        },
      ],
      handleProcessSignals: true,
    });
    let hookRuns = 0;
    bus.onShutdown(() => {
      hookRuns++;
      bus.emit(event(99)); // what an instrumentation's session_end would be
    });
    const added = process.listeners('beforeExit').filter((l) => !before.has(l));
    expect(added).toHaveLength(1);
    const beforeExit = added[0]!;
    bus.emit(event(1));
    beforeExit(0);
    await bus.shutdown();
    expect(hookRuns).toBe(1);
    expect(ids(sink.events)).toEqual([1, 99]);
    expect([flushes, shutdowns]).toEqual([1, 1]);
    // It removed its own listeners, so the shutdown's I/O cannot make it fire again.
    expect(process.listeners('beforeExit')).not.toContain(beforeExit);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import { setDiagnosticLogger } from '../../src/diagnostics.js';
import { EventBus } from '../../src/event-bus.js';
import type { HeartbeatEvent, SessionEndEvent } from '../../src/events.js';
import { DEFAULT_MEMORY_SINK_MAX_EVENTS, createMemorySink } from '../../src/sinks/memory-sink.js';

function heartbeat(n: number): HeartbeatEvent {
  return {
    type: 'heartbeat',
    ts: n,
    server: 's',
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

function sessionEnd(n: number): SessionEndEvent {
  return {
    type: 'session_end',
    sessionId: `s${n}`,
    server: 's',
    ts: n,
    durationMs: 1,
    requestCount: 0,
    errorCount: 0,
    reason: 'closed',
    transport: 'in-memory',
    role: 'server',
  };
}

afterEach(() => {
  setDiagnosticLogger(undefined);
});

describe('createMemorySink', () => {
  it('keeps events in order, filters by type and clears', async () => {
    const sink = createMemorySink();
    expect(sink.name).toBe('memory');
    const bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
    bus.emit(heartbeat(1));
    bus.emit(sessionEnd(2));
    bus.emit(heartbeat(3));
    await bus.flush();
    expect(sink.events.map((e) => e.ts)).toEqual([1, 2, 3]);
    const ends = sink.ofType('session_end');
    expect(ends).toEqual([sessionEnd(2)]);
    expect(ends[0]!.reason).toBe('closed'); // typed as SessionEndEvent
    expect(sink.ofType('heartbeat').map((e) => e.ts)).toEqual([1, 3]);
    expect(sink.ofType('request')).toEqual([]);
    const events = sink.events;
    sink.clear();
    expect(sink.events).toEqual([]);
    expect(events).toBe(sink.events); // the same array, emptied
    bus.emit(heartbeat(4));
    await bus.shutdown();
    expect(sink.events.map((e) => e.ts)).toEqual([4]);
  });

  it('discards the oldest events beyond maxEvents', () => {
    const sink = createMemorySink({ maxEvents: 3, name: 'bounded' });
    expect(sink.name).toBe('bounded');
    for (let n = 1; n <= 10; n++) sink.onEvent(heartbeat(n));
    expect(sink.events.map((e) => e.ts)).toEqual([8, 9, 10]);
  });

  it('defaults to DEFAULT_MEMORY_SINK_MAX_EVENTS', () => {
    const sink = createMemorySink();
    for (let n = 0; n < DEFAULT_MEMORY_SINK_MAX_EVENTS + 5; n++) sink.onEvent(heartbeat(n));
    expect(sink.events).toHaveLength(DEFAULT_MEMORY_SINK_MAX_EVENTS);
    expect(sink.events[0]!.ts).toBe(5);
  });

  it.each([Number.NaN, -1, 0, 2.5e-3, Number.POSITIVE_INFINITY])(
    'maxEvents %s falls back to the default with a warning and stays bounded',
    (maxEvents) => {
      const warnings: string[] = [];
      setDiagnosticLogger({ warn: (m) => warnings.push(m), error() {} });
      const sink = createMemorySink({ maxEvents });
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('maxEvents');
      for (let n = 0; n < DEFAULT_MEMORY_SINK_MAX_EVENTS + 1; n++) sink.onEvent(heartbeat(n));
      expect(sink.events).toHaveLength(DEFAULT_MEMORY_SINK_MAX_EVENTS);
    },
  );
});

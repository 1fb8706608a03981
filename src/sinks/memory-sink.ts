import type { EventSink } from '../event-bus.js';
import type { ProxyEvent } from '../events.js';
import { printable, reportWarning } from '../diagnostics.js';

/** A sink that keeps every event in memory: for tests and users' own assertions. */
export interface MemorySink extends EventSink {
  /** Events received so far, in order. */
  readonly events: ProxyEvent[];
  /** Forgets the events received so far. */
  clear(): void;
  /** Events of one type, typed. */
  ofType<T extends ProxyEvent['type']>(type: T): Array<Extract<ProxyEvent, { type: T }>>;
}

/** Options of {@link createMemorySink}. */
export interface MemorySinkOptions {
  /** Sink name in diagnostics. @default 'memory' */
  name?: string;
  /** Oldest events are discarded beyond this many, so a forgotten sink cannot grow forever. @default 100_000 */
  maxEvents?: number;
}

/** Default {@link MemorySinkOptions.maxEvents}. */
export const DEFAULT_MEMORY_SINK_MAX_EVENTS = 100_000;

/**
 * Creates a sink that records events in an array.
 * @example
 * const sink = createMemorySink();
 * instrument(server, { sinks: [sink] });
 * await flush();
 * expect(sink.ofType('request')).toHaveLength(1);
 */
export function createMemorySink(options: MemorySinkOptions = {}): MemorySink {
  const maxEvents = maxEventsOption(options.maxEvents);
  const events: ProxyEvent[] = [];
  return {
    name: options.name ?? 'memory',
    events,
    onEvent(event) {
      events.push(event);
      if (events.length > maxEvents) events.splice(0, events.length - maxEvents);
    },
    clear() {
      events.length = 0;
    },
    ofType<T extends ProxyEvent['type']>(type: T) {
      return events.filter((e): e is Extract<ProxyEvent, { type: T }> => e.type === type);
    },
  };
}

/** NaN would make the sink unbounded and 0 or less would keep nothing: both fall back. */
function maxEventsOption(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MEMORY_SINK_MAX_EVENTS;
  if (Number.isFinite(value) && value >= 1) return Math.floor(value);
  reportWarning(
    `createMemorySink option maxEvents=${printable(value)} is not a positive number; using ${DEFAULT_MEMORY_SINK_MAX_EVENTS}`,
  );
  return DEFAULT_MEMORY_SINK_MAX_EVENTS;
}

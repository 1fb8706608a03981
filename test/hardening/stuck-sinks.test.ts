/**
 * Issue 7, "Faults": a sink that blocks, or whose promises never settle, and a collector that
 * hangs. The message path never waits for a sink: calls are answered while a sink's work is
 * still pending (or before a blocking sink even runs), other sinks get every event, a burst
 * beyond the bus's queue is dropped and counted (reported once), and `shutdown()` resolves
 * within its 5 s bound even when the collector and a sink never answer. Real timers here: the
 * bounds are wall-clock promises.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import {
  EventBus,
  createMemorySink,
  createOtelSink,
  type EventSink,
  type ProxyEvent,
} from '../../src/index.js';
import {
  captureDiagnostics,
  connectPair,
  percentile,
  sampleLatencies,
  startSwitchableEndpoint,
  type CapturedDiagnostics,
  type Pair,
} from '../fixtures/hardening-helpers.js';
import { createTestServer, nextDispatch } from '../helpers/v1.js';

const cleanups: Array<() => Promise<unknown>> = [];
let diagnostics: CapturedDiagnostics | undefined;

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  diagnostics?.restore();
  diagnostics = undefined;
});

function later(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

/** Blocks the thread for `ms`, as a sink doing synchronous I/O or heavy work would. */
function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

/** A sink whose every promise stays pending forever; it counts what it was handed. */
function stuckSink(): EventSink & { batches: number; events: number; flushes: number } {
  const sink = {
    name: 'stuck',
    batches: 0,
    events: 0,
    flushes: 0,
    onEvent() {},
    // A sink breaking the contract (onBatch returning a promise) on purpose.
    onBatch(events: readonly ProxyEvent[]) {
      sink.batches++;
      sink.events += events.length;
      return new Promise<void>(() => {});
    },
    flush() {
      sink.flushes++;
      return new Promise<void>(() => {});
    },
    shutdown: () => new Promise<void>(() => {}),
  };
  return sink;
}

async function echoLatencies(pair: Pair, minMs: number): Promise<number[]> {
  return sampleLatencies(
    async (n) => {
      const result = await pair.client.callTool({ name: 'echo', arguments: { text: `${n}` } });
      expect(result.content).toEqual([{ type: 'text', text: `${n}` }]);
    },
    { minMs, minCalls: 200 },
  );
}

describe('a sink that never settles', () => {
  it('calls are answered at baseline latency while its batches and flushes stay pending; the other sink gets everything', async () => {
    diagnostics = captureDiagnostics();
    const baselineBus = new EventBus({ sinks: [createMemorySink()], flushIntervalMs: 0 });
    later(() => baselineBus.shutdown());
    const baseline = await connectPair(baselineBus);
    later(() => baseline.client.close());
    await echoLatencies(baseline, 300); // warm-up
    const base = await echoLatencies(baseline, 500);

    const stuck = stuckSink();
    const memory = createMemorySink();
    // A flush every 20 ms that never completes, bounded at 200 ms each.
    const bus = new EventBus({
      sinks: [stuck, memory],
      flushIntervalMs: 20,
      shutdownTimeoutMs: 200,
    });
    later(() => bus.shutdown());
    const pair = await connectPair(bus);
    later(() => pair.client.close());
    const latencies = await echoLatencies(pair, 800);

    expect(percentile(latencies, 50)).toBeLessThanOrEqual(3 * percentile(base, 50) + 2);
    await bus.flush();
    const requests = memory.events.filter(
      (e) => e.type === 'request' && e.mcpMethod === 'tools/call',
    );
    // Both sides of every call, though none of the stuck sink's promises ever settled.
    expect(requests).toHaveLength(2 * latencies.length);
    expect(stuck.events).toBe(memory.events.length);
    expect(stuck.batches).toBeGreaterThan(1);
    expect(stuck.flushes).toBeGreaterThan(1);
    expect(
      diagnostics.matching('sink stuck flush did not settle within 200 ms').length,
    ).toBeGreaterThan(0);
  });
});

describe('a sink that blocks the thread for 200 ms per batch', () => {
  const BLOCK_MS = 200;

  function blockingSink(): EventSink & { batches: number; events: number } {
    const sink = {
      name: 'blocking',
      batches: 0,
      events: 0,
      onEvent() {},
      onBatch(events: readonly ProxyEvent[]) {
        sink.batches++;
        sink.events += events.length;
        busyWait(BLOCK_MS);
      },
    };
    return sink;
  }

  it('runs after the call is answered, never on the message path', async () => {
    const sink = blockingSink();
    const bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
    later(() => bus.shutdown());
    const pair = await connectPair(bus);
    later(() => pair.client.close());
    await bus.flush();
    const batchesBefore = sink.batches;

    const started = performance.now();
    const result = await pair.client.callTool({ name: 'echo', arguments: { text: 'now' } });
    const latency = performance.now() - started;
    // The host had its answer before the sink ran at all: nothing on its path waited for it.
    expect(result.content).toEqual([{ type: 'text', text: 'now' }]);
    expect(sink.batches).toBe(batchesBefore);
    expect(latency).toBeLessThan(BLOCK_MS);
    await nextDispatch();
    expect(sink.batches).toBe(batchesBefore + 1);
    expect(sink.events).toBeGreaterThanOrEqual(2);
  });

  it('costs the host once per batch, not per message, and a burst beyond the queue is dropped, counted and reported once', async () => {
    diagnostics = captureDiagnostics();
    const sink = blockingSink();
    const maxQueueSize = 300;
    const bus = new EventBus({
      sinks: [sink],
      flushIntervalMs: 0,
      maxQueueSize,
      maxBatchSize: 256,
    });
    later(() => bus.shutdown());
    const pair = await connectPair(bus);
    later(() => pair.client.close());
    await bus.flush();
    const batchesBefore = sink.batches;
    const eventsBefore = sink.events;

    // 400 concurrent calls: in memory, every request reaches the server in this one synchronous
    // stretch, so 400 request events... and their answers, 800 more, land before any dispatch.
    const calls = 400;
    const results = await Promise.all(
      Array.from({ length: calls }, (_, n) =>
        pair.client.callTool({ name: 'echo', arguments: { text: `${n}` } }),
      ),
    );
    expect(results.map((r) => (r.content as Array<{ text: string }>)[0]!.text)).toEqual(
      Array.from({ length: calls }, (_, n) => `${n}`),
    );
    await bus.flush();
    const delivered = sink.events - eventsBefore;
    const dropped = bus.droppedEvents;
    expect(dropped).toBeGreaterThan(0);
    // Every event of the burst was either delivered or counted.
    expect(delivered + dropped).toBe(2 * calls);
    // Batches, not messages: at most one blocking call per maxBatchSize events (and a tail).
    expect(sink.batches - batchesBefore).toBeLessThanOrEqual(Math.ceil(delivered / 256) + 2);
    expect(diagnostics.matching('event queue full')).toHaveLength(1);
    expect(diagnostics.messages).toHaveLength(1);
  });
});

describe('shutdown() with a hanging collector and a sink that never settles', () => {
  it('resolves within the 5 s bound; the spans that did not get out are counted', async () => {
    diagnostics = captureDiagnostics();
    // Accepts the connection, never reads, never answers; the exporter's own timeout (10 s)
    // is longer than the bound, so only our bound can end the wait.
    const collector = await startSwitchableEndpoint({ mode: 'blackhole' });
    later(() => collector.close());
    const otel = createOtelSink({
      spanExporter: new OTLPTraceExporter({ url: collector.url }),
      batch: { scheduledDelayMillis: 50 },
    });
    const stuck = stuckSink();
    const memory = createMemorySink();
    const bus = new EventBus({ sinks: [otel, stuck, memory] });
    const pair = await connectPair(bus, { server: createTestServer() });
    for (let n = 0; n < 50; n++)
      await pair.client.callTool({ name: 'echo', arguments: { text: `${n}` } });
    // Let the first export start and hang, then keep calling, so spans queue up behind it.
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(collector.connections).toBeGreaterThan(0);
    for (let n = 0; n < 50; n++)
      await pair.client.callTool({ name: 'echo', arguments: { text: `${n}` } });

    const started = performance.now();
    await bus.shutdown();
    const elapsed = performance.now() - started;
    process.stderr.write(
      `[hardening] shutdown with a hanging collector and a stuck sink: ${Math.round(elapsed)} ms\n`,
    );
    expect(elapsed).toBeLessThan(7_000);
    // It waited for the collector (it did try), up to its bound.
    expect(elapsed).toBeGreaterThan(1_000);
    // Sessions ended (shutdown), and the other sink had every event.
    expect(memory.events.filter((e) => e.type === 'session_end')).toHaveLength(2);
    // Every span of the 100 calls (both sides) is counted as dropped: none was exported.
    expect(otel.droppedSpans).toBeGreaterThanOrEqual(200);
    expect(
      diagnostics.matching('not exported (counted as dropped)').length +
        diagnostics.matching('span export failed').length,
    ).toBeGreaterThan(0);
    // After shutdown the host carries on: calls still work, nothing is emitted any more.
    const after = await pair.client.callTool({ name: 'echo', arguments: { text: 'after' } });
    expect(after.content).toEqual([{ type: 'text', text: 'after' }]);
    await pair.client.close();
  }, 20_000);
});

/**
 * Issue 7, "Faults": an OTLP endpoint that is down (connection refused), a black hole (accepts
 * the connection, never reads or answers), a collector that holds every request, or one that
 * answers 500 or 429. A real SDK server and client, instrumented through our own pipeline with a
 * real `OTLPTraceExporter` (http/json), keep working at the latency they have with an exporter
 * that costs nothing; the span queue stays bounded and every span that does not get out is
 * counted, reported once; export resumes when the endpoint comes back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { EventBus, createOtelSink, type OtelSink } from '../../src/index.js';
import {
  CountingExporter,
  captureDiagnostics,
  connectPair,
  createCountingSink,
  percentile,
  sampleLatencies,
  startSwitchableEndpoint,
  type CapturedDiagnostics,
  type CountingSink,
  type Pair,
  type SwitchableEndpoint,
} from '../fixtures/hardening-helpers.js';
import {
  startOtlpReceiver,
  waitFor,
  type OtlpReceiver,
  type ReceiverBehaviour,
} from '../helpers/otlp-receiver.js';

/** The brief's batching: export often, give up on an export after 500 ms. */
const BATCH = { scheduledDelayMillis: 50, exportTimeoutMillis: 500 } as const;
/** The exporter's own budget per export (retries included); ours gives up sooner anyway. */
const EXPORTER_TIMEOUT_MS = 2_000;
/** Median latency with a faulty endpoint may be at most this ratio of the baseline's, plus 2 ms. */
const LATENCY_RATIO = 3;
const LATENCY_SLACK_MS = 2;
/** The faulty sample runs at least this long, so several exports fail or time out inside it. */
const SAMPLE_MS = 800;
const BASELINE_MS = 400;
const WARM_UP_MS = 200;
const SAMPLE_CALLS = 300;

const cleanups: Array<() => Promise<unknown>> = [];
let diagnostics: CapturedDiagnostics;

afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
  diagnostics?.restore();
});

function later(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}

interface Stack {
  readonly otel: OtelSink;
  readonly counts: CountingSink;
  readonly bus: EventBus;
  readonly pair: Pair;
}

/** Bus + OTel sink on `exporter` + counting sink, and an instrumented server and client. */
async function stack(
  exporter: SpanExporter,
  batch: Record<string, number> = BATCH,
  instrumentClient = true,
): Promise<Stack> {
  const otel = createOtelSink({ spanExporter: exporter, batch });
  const counts = createCountingSink();
  const bus = new EventBus({ sinks: [otel, counts], flushIntervalMs: 0 });
  later(() => bus.shutdown());
  const pair = await connectPair(bus, { instrumentClient });
  later(() => pair.client.close());
  return { otel, counts, bus, pair };
}

function exporterFor(url: string): OTLPTraceExporter {
  return new OTLPTraceExporter({ url, timeoutMillis: EXPORTER_TIMEOUT_MS });
}

/** Echo calls whose answers are checked: the host's calls keep working. */
async function echoLatencies(pair: Pair, minMs: number): Promise<number[]> {
  return sampleLatencies(
    async (n) => {
      const result = await pair.client.callTool({
        name: 'echo',
        arguments: { text: `call ${n}` },
      });
      expect(result.content).toEqual([{ type: 'text', text: `call ${n}` }]);
    },
    { minMs, minCalls: SAMPLE_CALLS },
  );
}

/** Spans ended so far: one per request event (each request and notification has one span). */
function spansEnded(counts: CountingSink): number {
  return counts.count('request');
}

type Fault =
  | { readonly kind: 'endpoint'; readonly label: string; readonly mode: 'refuse' | 'blackhole' }
  | { readonly kind: 'receiver'; readonly label: string; readonly behaviour: ReceiverBehaviour };

const FAULTS: readonly Fault[] = [
  { kind: 'endpoint', label: 'connection refused', mode: 'refuse' },
  { kind: 'endpoint', label: 'accepts and never answers', mode: 'blackhole' },
  { kind: 'receiver', label: 'holds every request (hang)', behaviour: { mode: 'hang' } },
  { kind: 'receiver', label: 'answers 500', behaviour: { mode: 'status', status: 500 } },
  {
    kind: 'receiver',
    label: 'answers 429 (Retry-After 1)',
    behaviour: { mode: 'status', status: 429, retryAfterSeconds: 1 },
  },
];

/** Figures for docs/reliability.md, printed once per fault. */
function report(label: string, base: number[], faulty: number[], dropped: number): void {
  const fmt = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`;
  process.stderr.write(
    `[hardening] OTLP ${label}: median ${fmt(percentile(faulty, 50))} (baseline ${fmt(
      percentile(base, 50),
    )}), p95 ${fmt(percentile(faulty, 95))} (baseline ${fmt(percentile(base, 95))}), ${
      faulty.length
    } calls, ${dropped} spans dropped\n`,
  );
}

describe('an OTLP endpoint that fails, through a real OTLPTraceExporter', () => {
  for (const fault of FAULTS) {
    it(`${fault.label}: calls keep their latency, drops are counted and reported once, export resumes`, async () => {
      diagnostics = captureDiagnostics();

      // Baseline, in the same test: the same stack with an exporter that costs nothing.
      const baseline = await stack(new CountingExporter());
      await echoLatencies(baseline.pair, WARM_UP_MS); // JIT, SDK caches
      const base = await echoLatencies(baseline.pair, BASELINE_MS);

      let receiver: OtlpReceiver | undefined;
      let endpoint: SwitchableEndpoint | undefined;
      let url: string;
      if (fault.kind === 'receiver') {
        receiver = await startOtlpReceiver(fault.behaviour);
        later(() => receiver!.close());
        url = `${receiver.url}/v1/traces`;
      } else {
        receiver = await startOtlpReceiver();
        later(() => receiver!.close());
        endpoint = await startSwitchableEndpoint({ mode: fault.mode });
        later(() => endpoint!.close());
        url = endpoint.url;
      }
      const faulty = await stack(exporterFor(url));
      const receivedBefore = receiver.requests.length;
      const latencies = await echoLatencies(faulty.pair, SAMPLE_MS);

      // The fault really was in force while the calls were measured.
      expect(faulty.otel.droppedSpans).toBeGreaterThan(0);
      if (fault.kind === 'receiver')
        expect(receiver.requests.length).toBeGreaterThan(receivedBefore);
      if (endpoint && fault.kind === 'endpoint' && fault.mode === 'blackhole')
        expect(endpoint.connections).toBeGreaterThan(0);
      if (endpoint) expect(receiver.requests).toEqual([]);

      report(fault.label, base, latencies, faulty.otel.droppedSpans);
      expect(percentile(latencies, 50)).toBeLessThanOrEqual(
        LATENCY_RATIO * percentile(base, 50) + LATENCY_SLACK_MS,
      );

      // Thousands of spans lost, and a fixed handful of diagnostics: each kind once.
      expect(diagnostics.matching('dropping spans')).toHaveLength(1);
      expect(diagnostics.matching('span export failed')).toHaveLength(1);
      expect(diagnostics.messages.length).toBeLessThanOrEqual(3);

      // The endpoint comes back: spans started from now on reach the receiver.
      // Requests the receiver refused or held before are not exports; count from here.
      const backFrom = receiver.requests.length;
      if (endpoint) {
        const port = Number(new URL(receiver.url).port);
        await endpoint.set({ mode: 'forward', port });
      } else {
        receiver.setBehaviour({ mode: 'ok' });
      }
      const exported = (): number =>
        receiver.requests
          .slice(backFrom)
          .flatMap((r) => r.traces?.resourceSpans ?? [])
          .flatMap((rs) => rs.scopeSpans)
          .reduce((sum, ss) => sum + ss.spans.length, 0);
      const marker = await faulty.pair.client.listTools();
      expect(marker.tools.map((t) => t.name)).toContain('echo');
      await waitFor(
        () => receiver.spans().some(({ span }) => span.name === 'tools/list'),
        10_000,
        () => `spans received: ${receiver.spans().length}, dropped ${faulty.otel.droppedSpans}`,
      );
      // Nothing lost silently: every span that ended was exported or counted as dropped. (A
      // batch we gave up on may still get out on the exporter's own retry: at least once.)
      await faulty.bus.flush();
      await waitFor(
        () => exported() + faulty.otel.droppedSpans >= spansEnded(faulty.counts),
        10_000,
        () =>
          `exported ${exported()} + dropped ${faulty.otel.droppedSpans} < ended ${spansEnded(faulty.counts)}`,
      );
    }, 40_000);
  }

  it('bounds the span queue: 5,000 calls into a dead endpoint hold at most 2 × maxQueueSize spans', async () => {
    diagnostics = captureDiagnostics();
    const receiver = await startOtlpReceiver();
    later(() => receiver.close());
    const endpoint = await startSwitchableEndpoint({ mode: 'refuse' });
    later(() => endpoint.close());
    const maxQueueSize = 1_000;
    const { otel, counts, bus, pair } = await stack(
      exporterFor(endpoint.url),
      { ...BATCH, maxQueueSize },
      false,
    );
    await bus.flush();
    const before = spansEnded(counts);
    // A tight loop of promises never yields to timers or I/O: nothing can be exported meanwhile,
    // so only the queue bound keeps memory in check.
    const calls = 5_000;
    for (let n = 0; n < calls; n++) {
      const result = await pair.client.callTool({ name: 'echo', arguments: { text: `${n}` } });
      expect(result.isError).toBeFalsy();
    }
    // At most one full queue waits and one batch (≤ maxQueueSize) is in the exporter's hands.
    expect(otel.droppedSpans).toBeGreaterThanOrEqual(calls - 2 * maxQueueSize);
    expect(diagnostics.matching('dropping spans')).toHaveLength(1);

    // Once the endpoint's failure is known, what was held is counted too: nothing silently lost.
    await bus.flush();
    await waitFor(
      () => otel.droppedSpans === spansEnded(counts),
      10_000,
      () => `dropped ${otel.droppedSpans}, ended ${spansEnded(counts)}`,
    );
    expect(spansEnded(counts)).toBeGreaterThanOrEqual(before + calls);
    expect(diagnostics.matching('dropping spans')).toHaveLength(1);
    expect(diagnostics.matching('span export failed')).toHaveLength(1);

    // And it resumes.
    await endpoint.set({ mode: 'forward', port: Number(new URL(receiver.url).port) });
    await pair.client.listTools();
    await waitFor(
      () => receiver.spans().some(({ span }) => span.name === 'tools/list'),
      10_000,
      () => `received ${receiver.spans().length}`,
    );
  }, 40_000);
});

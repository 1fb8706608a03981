/**
 * mcp-otel's own cost per request, without the SDK around it: a bare transport is
 * instrumented and fed fixed-shape JSON-RPC messages in a loop (request in, response out on the
 * server side; request out, response in on the client side). Far less noise than the full
 * benchmark, so a change of a few hundred ns shows; used to measure each optimisation against
 * the copy of src/ it replaces. Usage:
 *   node --expose-gc --min-semi-space-size=64 --max-semi-space-size=64 --import tsx bench/micro.ts \
 *     [--compare <dir of another src/>] [--reps 30] [--json]
 * `--json` serialises exported spans to OTLP JSON (as the real exporter does) instead of
 * discarding them.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import * as current from '../src/index.js';
import { CountingBatchSpanProcessor } from '../src/sinks/otel/batch-processor.js';
import { median } from './stats.js';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
context.with(context.active(), () => undefined);

type Library = Pick<typeof current, 'EventBus' | 'createOtelSink' | 'instrumentTransport'>;
const args = process.argv.slice(2);
const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const compare = flag('--compare');
const reps = Number(flag('--reps') ?? 30);
const json = args.includes('--json');
const only = flag('--only');
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');

/** Discards spans, or (--json) serialises them as the OTLP/HTTP JSON exporter would first. */
const exporter: SpanExporter = {
  export(spans: ReadableSpan[], done: (result: ExportResult) => void) {
    if (json) JsonTraceSerializer.serializeRequest(spans);
    done({ code: ExportResultCode.SUCCESS });
  },
  shutdown: () => Promise.resolve(),
  forceFlush: () => Promise.resolve(),
};

interface Bare {
  onmessage?: (message: unknown, extra?: unknown) => void;
  start(): Promise<void>;
  send(message: unknown): Promise<void>;
  close(): Promise<void>;
}

function bare(): Bare {
  return {
    start: () => Promise.resolve(),
    send: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

const initialize = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: {
    protocolVersion: '2025-06-18',
    capabilities: {},
    clientInfo: { name: 'bench-client', version: '1.0.0' },
  },
});
const initialized = (id: number) => ({
  jsonrpc: '2.0',
  id,
  result: {
    protocolVersion: '2025-06-18',
    capabilities: { tools: {} },
    serverInfo: { name: 'bench-server', version: '1.0.0' },
  },
});
const request = (id: number) => ({
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hello from the benchmark' } },
  jsonrpc: '2.0',
  id,
});
const response = (id: number) => ({
  result: { content: [{ type: 'text', text: 'hello from the benchmark' }] },
  jsonrpc: '2.0',
  id,
});

/** One request's worth of work for a setup; `i` is the JSON-RPC id. */
type Step = (i: number) => void;

interface Setup {
  step: Step;
  /** Exports what is queued: timed with the block, so no block inherits another's spans. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

function setups(lib: Library): Record<string, () => Setup> {
  const server = (bus: current.EventBus): Step => {
    const t = lib.instrumentTransport(bare(), { bus, transportKind: 'in-memory' });
    t.onmessage = () => undefined;
    t.onmessage(initialize(0));
    void t.send(initialized(0));
    return (i) => {
      t.onmessage?.(request(i));
      void t.send(response(i));
    };
  };
  const client = (bus: current.EventBus): Step => {
    const t = lib.instrumentTransport(bare(), { bus, transportKind: 'in-memory' });
    t.onmessage = () => undefined;
    void t.send(initialize(0));
    t.onmessage(initialized(0));
    return (i) => {
      void t.send(request(i));
      t.onmessage?.(response(i));
    };
  };
  const otelBus = () =>
    new lib.EventBus({
      sinks: [
        lib.createOtelSink({ spanExporter: exporter, batch: { scheduledDelayMillis: 3_600_000 } }),
      ],
    });
  return {
    'events-only': () => {
      const bus = new lib.EventBus({ sinks: [{ name: 'noop', onEvent() {} }] });
      return { step: server(bus), flush: () => bus.flush(), close: () => bus.shutdown() };
    },
    server: () => {
      const bus = otelBus();
      return { step: server(bus), flush: () => bus.flush(), close: () => bus.shutdown() };
    },
    client: () => {
      const bus = otelBus();
      return { step: client(bus), flush: () => bus.flush(), close: () => bus.shutdown() };
    },
    'client+server': () => {
      const bus = otelBus();
      const s = server(bus);
      const c = client(bus);
      return {
        step: (i) => {
          c(i);
          s(i);
        },
        flush: () => bus.flush(),
        close: () => bus.shutdown(),
      };
    },
  };
}

/** A hand-written SERVER span around the handler, as span-floor does (+ mcp-otel's attributes). */
function floor(withAttributes: boolean): Setup {
  const processor = new CountingBatchSpanProcessor(exporter, { scheduledDelayMillis: 3_600_000 });
  const tracer = new TracerProvider({ spanProcessors: [processor] }).getTracer('bench');
  const handler = (): undefined => undefined;
  return {
    step: () => {
      const span = tracer.startSpan('tools/call echo', {
        kind: SpanKind.SERVER,
        ...(withAttributes && {
          attributes: {
            'mcp.method.name': 'tools/call',
            'jsonrpc.request.id': String(id),
            'gen_ai.tool.name': 'echo',
            'gen_ai.operation.name': 'execute_tool',
            'mcp.protocol.version': '2025-06-18',
            'mcp.session.id': SESSION,
          },
        }),
      });
      context.with(trace.setSpan(context.active(), span), handler);
      span.end();
    },
    flush: () => processor.forceFlush(),
    close: () => processor.shutdown(),
  };
}

const load = async (dir: string) =>
  (await import(pathToFileURL(resolve(dir, 'index.ts')).href)) as Library;
// --lib <dir>: use another copy of src/ as "this tree" (e.g. to check that two identical
// copies measure the same).
const libDir = flag('--lib');
const libs: Array<[string, Library]> = [['', libDir ? await load(libDir) : current]];
if (compare) libs.push([' @before', await load(compare)]);
const cases: Array<[string, Setup]> = [
  [
    'nothing',
    { step: () => undefined, flush: () => Promise.resolve(), close: () => Promise.resolve() },
  ],
  ['span-floor', floor(false)],
  ['span-floor + attributes', floor(true)],
];
for (const [suffix, lib] of libs) {
  for (const [name, make] of Object.entries(setups(lib))) cases.push([name + suffix, make()]);
}

const SESSION = '8a1f6c2e-3b4d-4e5f-9a7b-1c2d3e4f5a6b';
const block = 2_000;
const yieldEvery = 100;
let id = 1;
const tick = () => new Promise((r) => setImmediate(r));
async function run(step: Step, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    step(id++);
    if (i % yieldEvery === yieldEvery - 1) await tick(); // the bus dispatches on its own turn
  }
}

let gcs = 0;
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
}).observe({ entryTypes: ['gc'] });
const settle = () => new Promise((r) => setTimeout(r, 20));

if (only !== undefined) {
  for (let i = cases.length - 1; i >= 1; i--) if (cases[i]?.[0] !== only) cases.splice(i, 1);
}
for (const [, c] of cases) await run(c.step, 5_000); // warm-up
const cpu = new Map<string, number[]>(cases.map(([n]) => [n, []]));
const bytes = new Map<string, number[]>(cases.map(([n]) => [n, []]));
for (let rep = 0; rep < reps; rep++) {
  for (let k = 0; k < cases.length; k++) {
    const [name, c] = cases[(k + rep) % cases.length] ?? cases[0]!;
    const before = process.cpuUsage();
    await run(c.step, block);
    await c.flush();
    const used = process.cpuUsage(before);
    cpu.get(name)?.push(((used.user + used.system) * 1000) / block);
  }
  // Allocation: one block per case with no GC in it (young space sized by the flags above).
  if (rep % 5 === 0) {
    for (const [name, c] of cases) {
      gc();
      await settle();
      const seen = gcs;
      const heap = process.memoryUsage().heapUsed;
      await run(c.step, block);
      await c.flush();
      const grown = process.memoryUsage().heapUsed - heap;
      await settle();
      if (gcs === seen) bytes.get(name)?.push(grown / block);
    }
  }
}
for (const [, c] of cases) await c.close();

const base = cpu.get('nothing') ?? [];
process.stdout.write(
  `per request, median of ${reps} interleaved blocks of ${block}${json ? ' (spans serialised to OTLP JSON)' : ''}\n`,
);
process.stdout.write('case                         CPU ns   added ns   bytes\n');
for (const [name] of cases) {
  const own = cpu.get(name) ?? [];
  const added = median(own.map((v, i) => v - (base[i] ?? 0)));
  const b = bytes.get(name) ?? [];
  process.stdout.write(
    `${name.padEnd(26)} ${median(own).toFixed(0).padStart(8)} ${added.toFixed(0).padStart(10)} ${b.length ? median(b).toFixed(0).padStart(7) : '      -'}\n`,
  );
}
if (compare) {
  process.stdout.write('\nthis tree − @before (median of paired differences), CPU ns / bytes:\n');
  for (const [name] of cases) {
    if (!name.endsWith(' @before')) continue;
    const after = name.slice(0, -' @before'.length);
    const a = cpu.get(after) ?? [];
    const b = cpu.get(name) ?? [];
    const ab = bytes.get(after) ?? [];
    const bb = bytes.get(name) ?? [];
    process.stdout.write(
      `  ${after.padEnd(16)} ${median(a.map((v, i) => v - (b[i] ?? 0)))
        .toFixed(0)
        .padStart(6)} ns` + `  ${(median(ab) - median(bb)).toFixed(0).padStart(6)} bytes\n`,
    );
  }
}

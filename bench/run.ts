/**
 * `npm run bench` (`-- --quick` for CI, `-- --only <scenario substring>`, `-- --memory` for the
 * 1,000,000-call memory run). Method: for each scenario, every repetition opens each variant
 * in a rotated order (A B C, B C A, ...), warms it up, measures it, closes it; per repetition
 * the variant's mean is paired with the baseline's mean of the same repetition, and the
 * report gives medians over repetitions: added µs per call and the ratio to baseline. Absolute
 * times on these machines are noise; paired differences are not.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import { SCENARIOS, startReceiver, type Scenario } from './scenarios.js';
import { median, mean, percentile, slope } from './stats.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const memoryRun = args.includes('--memory');
const onlyIndex = args.indexOf('--only');
const only = onlyIndex >= 0 ? args[onlyIndex + 1] : undefined;
const root = fileURLToPath(new URL('..', import.meta.url));

// Every variant runs with the same context manager (mcp-otel registers this one on demand).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  meanUs: number;
  p50Us: number;
  p99Us: number;
  cpuUsPerCall: number;
  throughput: number;
  retainedKb: number | undefined;
}

interface Row {
  scenario: string;
  variant: string;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  addedUs: number;
  ratio: number;
  cpuUsPerCall: number;
  throughput: number;
  retainedKb: number | undefined;
}

function plan(scenario: Scenario): { reps: number; warmup: number; calls: number } {
  const slow = /http|stdio|wrap/.test(scenario.name);
  if (quick) return { reps: 3, warmup: slow ? 50 : 200, calls: slow ? 150 : 800 };
  return { reps: 7, warmup: slow ? 200 : 1_000, calls: slow ? 1_000 : 5_000 };
}

async function measure(
  scenario: Scenario,
  variant: string,
  endpoint: string,
  warmup: number,
  calls: number,
): Promise<Sample> {
  gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  const pair = await scenario.open(variant, endpoint);
  const latencies = new Float64Array(calls);
  let done = 0;
  const runCalls = async (count: number, record: boolean): Promise<void> => {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        const index = next++;
        const start = performance.now();
        await pair.call();
        if (record) latencies[index] = (performance.now() - start) * 1000;
      }
    };
    await Promise.all(Array.from({ length: scenario.concurrency }, worker));
    done += count;
  };
  await runCalls(warmup, false);
  const cpuBefore = process.cpuUsage();
  const wallStart = performance.now();
  await runCalls(calls, true);
  const wallMs = performance.now() - wallStart;
  const cpu = process.cpuUsage(cpuBefore);
  gc?.();
  const retainedKb = gc ? (process.memoryUsage().heapUsed - heapBefore) / 1024 : undefined;
  await pair.close();
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  void done;
  return {
    meanUs: mean(sorted),
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    cpuUsPerCall: (cpu.user + cpu.system) / calls,
    throughput: calls / (wallMs / 1000),
    retainedKb,
  };
}

async function runScenario(scenario: Scenario, endpoint: string): Promise<Row[]> {
  const { reps, warmup, calls } = plan(scenario);
  const samples = new Map<string, Sample[]>(scenario.variants.map((v) => [v, []]));
  for (let rep = 0; rep < reps; rep++) {
    const order = scenario.variants.map(
      (_, i) => scenario.variants[(i + rep) % scenario.variants.length] ?? '',
    );
    for (const variant of order) {
      samples.get(variant)?.push(await measure(scenario, variant, endpoint, warmup, calls));
    }
    process.stderr.write('.');
  }
  const baseline = samples.get(scenario.variants[0] ?? '') ?? [];
  return scenario.variants.map((variant) => {
    const own = samples.get(variant) ?? [];
    const added = own.map((s, i) => s.meanUs - (baseline[i]?.meanUs ?? NaN));
    const ratios = own.map((s, i) => s.meanUs / (baseline[i]?.meanUs ?? NaN));
    const retained = own.map((s) => s.retainedKb).filter((v): v is number => v !== undefined);
    return {
      scenario: scenario.name,
      variant,
      meanUs: median(own.map((s) => s.meanUs)),
      p50Us: median(own.map((s) => s.p50Us)),
      p99Us: median(own.map((s) => s.p99Us)),
      addedUs: median(added),
      ratio: median(ratios),
      cpuUsPerCall: median(own.map((s) => s.cpuUsPerCall)),
      throughput: median(own.map((s) => s.throughput)),
      retainedKb: retained.length ? median(retained) : undefined,
    };
  });
}

/** 1,000,000 calls (100,000 quick) and 10,000 sessions (1,000 quick), heap sampled after GC. */
async function memory(endpoint: string): Promise<Record<string, unknown>> {
  const scenario = SCENARIOS[0];
  if (!scenario) return {};
  const totalCalls = quick ? 100_000 : 1_000_000;
  const sessions = quick ? 1_000 : 10_000;
  const samplesX: number[] = [];
  const samplesY: number[] = [];
  const pair = await scenario.open('mcp-otel server', endpoint);
  const step = totalCalls / 20;
  for (let done = 0; done < totalCalls; done += step) {
    for (let i = 0; i < step; i++) await pair.call();
    gc?.();
    samplesX.push(done + step);
    samplesY.push(process.memoryUsage().heapUsed);
  }
  await pair.close();
  const sessionHeap: number[] = [];
  for (let i = 0; i < sessions; i++) {
    const p = await scenario.open('mcp-otel server', endpoint);
    await p.call();
    await p.close();
    if (i % (sessions / 10) === 0) {
      gc?.();
      sessionHeap.push(process.memoryUsage().heapUsed);
    }
  }
  const warm = samplesY.slice(2);
  return {
    calls: totalCalls,
    heapSlopeBytesPer1kCalls: slope(samplesX.slice(2), warm) * 1000,
    heapAfterWarmupMb: (warm[0] ?? 0) / 2 ** 20,
    heapAtEndMb: (warm[warm.length - 1] ?? 0) / 2 ** 20,
    sessions,
    sessionHeapMb: sessionHeap.map((b) => +(b / 2 ** 20).toFixed(1)),
  };
}

function table(rows: readonly Row[]): string {
  const header = [
    'scenario',
    'variant',
    'mean µs',
    'p50 µs',
    'p99 µs',
    'added µs',
    '× base',
    'CPU µs/call',
    'calls/s',
    'retained KB',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.variant,
    r.meanUs.toFixed(1),
    r.p50Us.toFixed(1),
    r.p99Us.toFixed(1),
    (r.addedUs >= 0 ? '+' : '') + r.addedUs.toFixed(1),
    r.ratio.toFixed(2),
    r.cpuUsPerCall.toFixed(1),
    r.throughput.toFixed(0),
    r.retainedKb === undefined ? '-' : r.retainedKb.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]) =>
    '| ' + cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ') + ' |';
  return [
    fmt(header),
    '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|',
    ...lines.map(fmt),
  ].join('\n');
}

/** The budget of issue 6, checked against this run's figures (reported, never asserted). */
function budget(rows: readonly Row[]): Array<{ budget: string; measured: string; met: boolean }> {
  const find = (scenario: string, variant: string) =>
    rows.find((r) => r.scenario === scenario && r.variant === variant);
  const out: Array<{ budget: string; measured: string; met: boolean }> = [];
  const floor = find('in-memory sequential', 'span-floor');
  const server = find('in-memory sequential', 'mcp-otel server');
  const both = find('in-memory sequential', 'mcp-otel client+server');
  if (floor && server) {
    const x = server.addedUs / floor.addedUs;
    out.push({
      budget: 'in-memory, server-only ≤ 1.2× span-floor added time',
      measured: `+${server.addedUs.toFixed(1)} µs vs +${floor.addedUs.toFixed(1)} µs = ${x.toFixed(2)}×`,
      met: x <= 1.2,
    });
  }
  if (floor && both) {
    const x = both.addedUs / floor.addedUs;
    out.push({
      budget: 'in-memory, client+server ≤ 2.2× span-floor added time',
      measured: `+${both.addedUs.toFixed(1)} µs vs +${floor.addedUs.toFixed(1)} µs = ${x.toFixed(2)}×`,
      met: x <= 2.2,
    });
  }
  const noSchema = find('tools/list 200 tools', 'mcp-otel no-schema');
  const withSchema = find('tools/list 200 tools', 'mcp-otel server');
  if (noSchema && withSchema) {
    const x = (withSchema.meanUs - noSchema.meanUs) / noSchema.meanUs;
    out.push({
      budget: 'tools/list of 200 tools: schema tracking adds < 10%',
      measured: `${(x * 100).toFixed(1)}%`,
      met: x < 0.1,
    });
  }
  const wrap = find('mcp-otel wrap', 'wrap');
  if (wrap) {
    out.push({
      budget: 'mcp-otel wrap adds < 100 µs p50 per call',
      measured: `+${(wrap.p50Us - (find('mcp-otel wrap', 'direct')?.p50Us ?? NaN)).toFixed(1)} µs p50`,
      met: wrap.p50Us - (find('mcp-otel wrap', 'direct')?.p50Us ?? Infinity) < 100,
    });
  }
  return out;
}

function versions(): Record<string, string> {
  const out: Record<string, string> = { node: process.version };
  for (const name of [
    '@modelcontextprotocol/sdk',
    '@opentelemetry/api',
    '@opentelemetry/sdk-trace',
    '@opentelemetry/exporter-trace-otlp-http',
  ]) {
    try {
      const pkg = JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')) as {
        version: string;
      };
      out[name] = pkg.version;
    } catch {
      out[name] = 'unknown';
    }
  }
  return out;
}

async function main(): Promise<void> {
  if (!gc)
    process.stderr.write(
      'note: run with --expose-gc for retained-heap figures (npm run bench does)\n',
    );
  const receiver = await startReceiver();
  const started = performance.now();
  const rows: Row[] = [];
  try {
    for (const scenario of SCENARIOS) {
      if (only && !scenario.name.includes(only)) continue;
      process.stderr.write(`${scenario.name} `);
      rows.push(...(await runScenario(scenario, receiver.url)));
      process.stderr.write('\n');
    }
    const mem = memoryRun ? await memory(receiver.url) : undefined;
    const checks = budget(rows);
    const out = process.stderr;
    out.write(`\n${table(rows)}\n\n`);
    for (const check of checks)
      out.write(`${check.met ? 'met ' : 'MISSED'}  ${check.budget}: ${check.measured}\n`);
    if (mem) out.write(`\nmemory: ${JSON.stringify(mem)}\n`);
    out.write(
      `\n${quick ? 'quick' : 'full'} run, ${((performance.now() - started) / 1000).toFixed(1)} s, max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
    );
    mkdirSync(`${root}bench/results`, { recursive: true });
    writeFileSync(
      `${root}bench/results/latest.json`,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          mode: quick ? 'quick' : 'full',
          versions: versions(),
          rows,
          budget: checks,
          memory: mem,
          maxRssMb: process.resourceUsage().maxRSS / 1024,
        },
        null,
        2,
      ) + '\n',
    );
  } finally {
    receiver.stop();
  }
}

await main();

/**
 * `npm run bench` (`-- --quick` for CI, `-- --only <scenario substring>`, `-- --reps <n>`,
 * `-- --memory` for the 1,000,000-call memory run alone, `-- --compare <dir>` to run the in-process
 * scenarios' mcp-otel variants also on another copy of src/, as `<variant> @before`).
 *
 * Method. Per scenario, every variant's pair is opened and warmed up once. A repetition runs
 * short slices of calls (1,000 in-process, 75-150 over HTTP or stdio), one slice per variant
 * per round, in an order rotated every round, so load from other processes (which changes over
 * seconds) falls on every variant alike. A slice ends with the variant's flush: its spans are
 * exported on its own account, and none is held into another variant's slice. Per slice: the
 * latency of each call, wall time, and CPU time from process.cpuUsage() plus, where the pair
 * runs other processes (stdio server, wrap proxy), theirs from /proc. Each repetition's figures
 * are paired with the baseline's of the same repetition; the report gives medians over
 * repetitions of the paired differences: added p50 µs (wall) and added CPU µs per call. On a
 * shared machine wall time mostly measures the neighbours; CPU per call is what the
 * instrumentation costs, so the budget is judged on it (the wall figure is shown next to it).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import {
  SCENARIOS,
  sharedBusSessions,
  startReceiver,
  type Pair,
  type Scenario,
} from './scenarios.js';
import { median, mean, percentile, slope } from './stats.js';
import { BEFORE, setComparedLibrary, type Library } from './variants.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const memoryRun = args.includes('--memory');
const flag = (name: string): string | undefined => {
  const index = args.indexOf(name);
  return index >= 0 ? args[index + 1] : undefined;
};
const only = flag('--only');
const repsOverride = flag('--reps') === undefined ? undefined : Number(flag('--reps'));
const compare = flag('--compare');
const root = fileURLToPath(new URL('..', import.meta.url));

// Every variant runs with the same context manager (mcp-otel registers this one on demand).
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
// Used once, so AsyncLocalStorage's promise hooks are on for every variant alike, baseline
// included (Node 20 turns them on at first use, for good): as in any app where OTel is set up.
context.with(context.active(), () => undefined);

const gc = (globalThis as { gc?: () => void }).gc;

interface Sample {
  p50Us: number;
  p99Us: number;
  meanUs: number;
  /** Wall time of the calls / calls (for concurrent scenarios, the inverse of throughput). */
  wallUsPerCall: number;
  /** CPU of the calls and of the variant's flush (its export), per call. */
  cpuUsPerCall: number;
}

interface Row {
  scenario: string;
  variant: string;
  reps: number;
  callsPerRep: number;
  p50Us: number;
  p99Us: number;
  meanUs: number;
  throughput: number;
  cpuUsPerCall: number;
  /** Median over repetitions of (variant − baseline of the same repetition). */
  addedP50Us: number;
  addedCpuUs: number;
  /** Median over repetitions of variant / baseline, CPU µs per call. */
  cpuRatio: number;
  /** Heap the open, warmed-up pair holds (after GC). */
  heapKb: number | undefined;
  samples: Sample[];
}

interface Plan {
  reps: number;
  /** Rounds per repetition; each round runs one slice of every variant. */
  rounds: number;
  /** Calls per slice. */
  slice: number;
  warmup: number;
  /** Warm-up stops after this long even if `warmup` calls have not run (5 ms listings). */
  warmupMs: number;
}

/**
 * Slices are short (a few to a few tens of ms) and variants alternate slice by slice, so load
 * from other processes, which changes over seconds, falls on every variant alike.
 */
function plan(scenario: Scenario): Plan {
  const slow = scenario.slow;
  // Warm-up long enough for V8 to optimise the message path of every process involved (a
  // wrap proxy measured after 50 calls costs twice what it costs after 2,000): a server runs
  // for hours, so its steady state is what instrumentation costs it.
  if (quick) {
    return slow
      ? { reps: repsOverride ?? 3, rounds: 2, slice: 75, warmup: 1_000, warmupMs: 1_000 }
      : { reps: repsOverride ?? 9, rounds: 1, slice: 1_000, warmup: 2_000, warmupMs: 1_000 };
  }
  return slow
    ? { reps: repsOverride ?? 11, rounds: 2, slice: 150, warmup: 2_000, warmupMs: 3_000 }
    : { reps: repsOverride ?? 21, rounds: 2, slice: 1_000, warmup: 5_000, warmupMs: 3_000 };
}

async function runCalls(
  pair: Pair,
  concurrency: number,
  count: number,
  latencies?: number[],
  untilMs = Infinity,
): Promise<void> {
  let next = 0;
  const deadline = performance.now() + untilMs;
  const worker = async (): Promise<void> => {
    while (next < count && (untilMs === Infinity || performance.now() < deadline)) {
      next++;
      const start = performance.now();
      await pair.call();
      latencies?.push((performance.now() - start) * 1000);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface Tally {
  latencies: number[];
  wallMs: number;
  cpuUs: number;
  calls: number;
}

/** CPU µs of this process and of the pair's other processes, if any. */
function cpuNow(pair: Pair): number {
  const own = process.cpuUsage();
  return own.user + own.system + (pair.remoteCpuUs?.() ?? 0);
}

async function slice(pair: Pair, concurrency: number, calls: number, tally: Tally): Promise<void> {
  const cpuBefore = cpuNow(pair);
  const wallStart = performance.now();
  await runCalls(pair, concurrency, calls, tally.latencies);
  tally.wallMs += performance.now() - wallStart;
  // The slice's spans are exported now, on its own account: spans held across other
  // variants' slices would survive their scavenges and bill them for the copying.
  await pair.flush();
  tally.cpuUs += cpuNow(pair) - cpuBefore;
  tally.calls += calls;
}

/** One repetition: `rounds` rounds of one slice per variant, in an order rotated each round. */
async function repetition(
  scenario: Scenario,
  pairs: ReadonlyMap<string, Pair>,
  { rounds, slice: calls }: Plan,
  rep: number,
): Promise<Map<string, Sample>> {
  const n = scenario.variants.length;
  const tallies = new Map<string, Tally>(
    scenario.variants.map((v) => [v, { latencies: [], wallMs: 0, cpuUs: 0, calls: 0 }]),
  );
  gc?.();
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < n; i++) {
      const variant = scenario.variants[(i + round + rep) % n] ?? '';
      const pair = pairs.get(variant);
      const tally = tallies.get(variant);
      if (pair && tally) await slice(pair, scenario.concurrency, calls, tally);
    }
  }
  const samples = new Map<string, Sample>();
  for (const [variant, tally] of tallies) {
    const sorted = tally.latencies.sort((a, b) => a - b);
    samples.set(variant, {
      p50Us: percentile(sorted, 50),
      p99Us: percentile(sorted, 99),
      meanUs: mean(sorted),
      wallUsPerCall: (tally.wallMs * 1000) / tally.calls,
      cpuUsPerCall: tally.cpuUs / tally.calls,
    });
  }
  return samples;
}

async function runScenario(scenario: Scenario, endpoint: string): Promise<Row[]> {
  const p = plan(scenario);
  const pairs = new Map<string, Pair>();
  const heap = new Map<string, number>();
  const samples = new Map<string, Sample[]>(scenario.variants.map((v) => [v, []]));
  try {
    for (const variant of scenario.variants) {
      gc?.();
      const heapBefore = process.memoryUsage().heapUsed;
      const pair = await scenario.open(variant, endpoint);
      pairs.set(variant, pair);
      await runCalls(pair, scenario.concurrency, p.warmup, undefined, p.warmupMs);
      await pair.flush();
      gc?.();
      if (gc) heap.set(variant, (process.memoryUsage().heapUsed - heapBefore) / 1024);
    }
    for (let rep = 0; rep < p.reps; rep++) {
      for (const [variant, sample] of await repetition(scenario, pairs, p, rep))
        samples.get(variant)?.push(sample);
      process.stderr.write('.');
    }
  } finally {
    for (const pair of pairs.values()) await pair.close();
  }
  const baseline = samples.get(scenario.variants[0] ?? '') ?? [];
  return scenario.variants.map((variant) => {
    const own = samples.get(variant) ?? [];
    const paired = (f: (s: Sample) => number) =>
      median(own.map((s, i) => f(s) - f(baseline[i] ?? s)));
    return {
      scenario: scenario.name,
      variant,
      reps: own.length,
      callsPerRep: p.rounds * p.slice,
      p50Us: median(own.map((s) => s.p50Us)),
      p99Us: median(own.map((s) => s.p99Us)),
      meanUs: median(own.map((s) => s.meanUs)),
      throughput: 1e6 / median(own.map((s) => s.wallUsPerCall)),
      cpuUsPerCall: median(own.map((s) => s.cpuUsPerCall)),
      addedP50Us: paired((s) => s.p50Us),
      addedCpuUs: paired((s) => s.cpuUsPerCall),
      cpuRatio: median(own.map((s, i) => s.cpuUsPerCall / (baseline[i]?.cpuUsPerCall ?? NaN))),
      heapKb: heap.get(variant),
      samples: own,
    };
  });
}

/**
 * 1,000,000 calls (100,000 quick) on one session, then 10,000 sessions (1,000 quick) on one
 * bus, one call each, heap sampled after GC; the slopes should be ~0.
 */
async function memory(endpoint: string): Promise<Record<string, unknown>> {
  const totalCalls = quick ? 100_000 : 1_000_000;
  const sessions = quick ? 1_000 : 10_000;
  const shared = sharedBusSessions(endpoint);
  const samplesX: number[] = [];
  const samplesY: number[] = [];
  const pair = await shared.open();
  const step = totalCalls / 20;
  const started = performance.now();
  for (let done = 0; done < totalCalls; done += step) {
    for (let i = 0; i < step; i++) await pair.call();
    await pair.flush();
    gc?.();
    samplesX.push(done + step);
    samplesY.push(process.memoryUsage().heapUsed);
    process.stderr.write('.');
  }
  await pair.close();
  const callsSecs = (performance.now() - started) / 1000;
  const sessionHeap: number[] = [];
  const sessionX: number[] = [];
  const sessionsStarted = performance.now();
  for (let i = 1; i <= sessions; i++) {
    const p = await shared.open();
    await p.call();
    await p.close();
    if (i % (sessions / 10) === 0) {
      await p.flush();
      gc?.();
      sessionX.push(i);
      sessionHeap.push(process.memoryUsage().heapUsed);
      process.stderr.write('.');
    }
  }
  const sessionsSecs = (performance.now() - sessionsStarted) / 1000;
  const tracersLeft = shared.sessionTracers;
  await shared.close();
  const warm = samplesY.slice(2);
  const mb = (bytes: number) => +(bytes / 2 ** 20).toFixed(2);
  return {
    variant: 'mcp-otel server (OTLP export), in-memory, one bus',
    calls: totalCalls,
    callsSeconds: +callsSecs.toFixed(1),
    heapSlopeBytesPer1kCalls: +(slope(samplesX.slice(2), warm) * 1000).toFixed(2),
    heapMbByCall: samplesY.map(mb),
    sessions,
    sessionsSeconds: +sessionsSecs.toFixed(1),
    heapSlopeBytesPerSession: +slope(sessionX, sessionHeap).toFixed(2),
    sessionHeapMb: sessionHeap.map(mb),
    sessionTracersLeft: tracersLeft,
  };
}

const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const signed = (n: number) => (n >= 0 ? '+' : '') + fixed(n);

function table(rows: readonly Row[]): string {
  const header = [
    'scenario',
    'variant',
    'p50 µs',
    'p99 µs',
    'mean µs',
    'calls/s',
    'CPU µs/call',
    'added p50 µs',
    'added CPU µs',
    '× CPU',
    'heap KB',
  ];
  const lines = rows.map((r) => [
    r.scenario,
    r.variant,
    fixed(r.p50Us),
    fixed(r.p99Us),
    fixed(r.meanUs),
    fixed(r.throughput, 0),
    fixed(r.cpuUsPerCall),
    signed(r.addedP50Us),
    signed(r.addedCpuUs),
    fixed(r.cpuRatio, 2),
    r.heapKb === undefined ? '-' : fixed(r.heapKb, 0),
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

interface Check {
  budget: string;
  measured: string;
  met: boolean;
}

/** The budget of issue 6, checked against this run's figures (reported, never asserted). */
function budget(rows: readonly Row[]): Check[] {
  const find = (scenario: string, variant: string) =>
    rows.find((r) => r.scenario === scenario && r.variant === variant);
  const out: Check[] = [];
  const seq = 'in-memory sequential';
  const floor = find(seq, 'span-floor');
  const floor2 = find(seq, 'span-floor client+server');
  const floor2a = find(seq, 'span-floor client+server + attributes');
  const floorA = find(seq, 'span-floor + attributes');
  const vsFloor = (row: Row | undefined, limit: number, label: string) => {
    if (!floor || !row) return;
    const cpu = row.addedCpuUs / floor.addedCpuUs;
    const wall = row.addedP50Us / floor.addedP50Us;
    out.push({
      budget: `in-memory, ${label} ≤ ${limit}× span-floor's added CPU`,
      measured:
        `CPU +${fixed(row.addedCpuUs)} vs +${fixed(floor.addedCpuUs)} µs = ${fixed(cpu, 2)}×` +
        ` (wall p50 +${fixed(row.addedP50Us)} vs +${fixed(floor.addedP50Us)} µs = ${fixed(wall, 2)}×)` +
        (label === 'client+server' && floor2
          ? `; hand-written 2 spans + propagation: CPU +${fixed(floor2.addedCpuUs)} µs` +
            (floor2a ? `, with the spec attributes: +${fixed(floor2a.addedCpuUs)} µs` : '')
          : '') +
        (label === 'server-only' && floorA
          ? `; hand-written span with the spec attributes: CPU +${fixed(floorA.addedCpuUs)} µs`
          : ''),
      met: cpu <= limit,
    });
  };
  vsFloor(find(seq, 'mcp-otel server'), 1.2, 'server-only');
  vsFloor(find(seq, 'mcp-otel client+server'), 2.2, 'client+server');
  for (const list of ['tools/list 200 tools', 'tools/list 200 McpServer tools']) {
    const noSchema = find(list, 'mcp-otel no-schema');
    const withSchema = find(list, 'mcp-otel server');
    if (!noSchema || !withSchema) continue;
    // Paired within each repetition (the two variants ran in alternating slices), then the
    // median: steadier than a difference of two medians, each paired with the baseline.
    const share = (f: (s: Sample) => number) =>
      median(
        withSchema.samples.map((s, i) => {
          const without = noSchema.samples[i];
          return without ? (f(s) - f(without)) / f(without) : NaN;
        }),
      );
    const added = median(
      withSchema.samples.map((s, i) => s.cpuUsPerCall - (noSchema.samples[i]?.cpuUsPerCall ?? NaN)),
    );
    const cpu = share((s) => s.cpuUsPerCall);
    const wall = share((s) => s.p50Us);
    out.push({
      budget: `${list}: schema tracking adds < 10% CPU`,
      measured: `CPU ${signed(cpu * 100)}% (${signed(added)} µs; wall p50 ${signed(wall * 100)}%)`,
      met: cpu < 0.1,
    });
  }
  const wrap = find('mcp-otel wrap', 'wrap');
  const pipe = find('mcp-otel wrap', 'pipe proxy');
  if (wrap) {
    out.push({
      budget: 'mcp-otel wrap adds < 100 µs p50 per call',
      measured:
        `+${fixed(wrap.addedP50Us)} µs p50, CPU +${fixed(wrap.addedCpuUs)} µs` +
        (pipe
          ? ` (a bare pipe proxy: +${fixed(pipe.addedP50Us)} µs p50, CPU +${fixed(pipe.addedCpuUs)} µs)`
          : ''),
      met: wrap.addedP50Us < 100,
    });
  }
  return out;
}

/** --compare: each variant against its ` @before` twin, paired per repetition. */
function comparisons(rows: readonly Row[]): string[] {
  const out: string[] = [];
  for (const before of rows.filter((r) => r.variant.endsWith(BEFORE))) {
    const after = rows.find(
      (r) =>
        r.scenario === before.scenario && r.variant === before.variant.slice(0, -BEFORE.length),
    );
    if (!after) continue;
    const paired = (f: (s: Sample) => number) =>
      median(after.samples.map((s, i) => f(s) - f(before.samples[i] ?? s)));
    const cpu = paired((s) => s.cpuUsPerCall);
    const spread = after.samples.map(
      (s, i) => s.cpuUsPerCall - (before.samples[i]?.cpuUsPerCall ?? NaN),
    );
    if (out.length === 0)
      out.push('\nthis tree vs --compare (median of paired differences per repetition):');
    out.push(
      `  ${after.scenario} / ${after.variant}: CPU ${signed(cpu)} µs/call ` +
        `(${fixed(before.cpuUsPerCall)} → ${fixed(after.cpuUsPerCall)}; per-rep range ` +
        `${fixed(Math.min(...spread))}..${fixed(Math.max(...spread))}), ` +
        `p50 ${signed(paired((s) => s.p50Us))} µs`,
    );
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
  const loadBefore = loadavg();
  const rows: Row[] = [];
  if (compare) {
    const path = pathToFileURL(resolve(compare, 'index.ts')).href;
    setComparedLibrary((await import(path)) as Library);
  }
  try {
    for (const listed of SCENARIOS) {
      if (only && !listed.name.includes(only)) continue;
      if (memoryRun && !only) continue; // --memory alone is just the memory run
      // --compare: the in-process scenarios' mcp-otel variants also run on the other copy.
      const scenario =
        compare && listed.inProcess
          ? {
              ...listed,
              variants: [
                ...listed.variants,
                ...listed.variants.filter((v) => v.startsWith('mcp-otel')).map((v) => v + BEFORE),
              ],
            }
          : listed;
      process.stderr.write(`${scenario.name} `);
      rows.push(...(await runScenario(scenario, receiver.url)));
      process.stderr.write('\n');
    }
    const mem = memoryRun ? await memory(receiver.url) : undefined;
    const checks = budget(rows);
    const out = process.stdout;
    out.write(`\n${table(rows)}\n\n`);
    for (const check of checks)
      out.write(`${check.met ? 'met   ' : 'MISSED'}  ${check.budget}: ${check.measured}\n`);
    for (const line of comparisons(rows)) out.write(`${line}\n`);
    if (mem) out.write(`\nmemory: ${JSON.stringify(mem)}\n`);
    const seconds = (performance.now() - started) / 1000;
    const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load ${loadBefore.map((l) => l.toFixed(1)).join(' ')} → ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`;
    out.write(
      `\n${quick ? 'quick' : 'full'} run, ${seconds.toFixed(1)} s, ${machine}, max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB\n`,
    );
    mkdirSync(`${root}bench/results`, { recursive: true });
    writeFileSync(
      `${root}bench/results/latest.json`,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          mode: quick ? 'quick' : 'full',
          seconds: +seconds.toFixed(1),
          machine,
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

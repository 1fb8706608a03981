/**
 * Bytes allocated per call, per variant: deterministic where CPU time on a shared machine is
 * not. Young space is made large enough that a slice of calls triggers no GC (checked: a
 * slice during which one ran is discarded), so the heap's growth over the slice is what it
 * allocated, flush (export) included. Usage:
 *   node --expose-gc --max-semi-space-size=256 --import tsx bench/alloc.ts \
 *     [--compare <dir of another src/>] [variant ...]
 */
import { PerformanceObserver } from 'node:perf_hooks';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import { SCENARIOS, startReceiver } from './scenarios.js';
import { median } from './stats.js';
import { BEFORE, setComparedLibrary, type Library } from './variants.js';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
context.with(context.active(), () => undefined);

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const args = process.argv.slice(2);
const compareAt = args.indexOf('--compare');
const compare = compareAt >= 0 ? args[compareAt + 1] : undefined;
const named = compareAt < 0 ? args : args.filter((_, i) => i !== compareAt && i !== compareAt + 1);
if (compare) {
  setComparedLibrary((await import(pathToFileURL(resolve(compare, 'index.ts')).href)) as Library);
}
const scenario = SCENARIOS.find(
  (s) => s.name === (process.env.BENCH_SCENARIO ?? 'in-memory sequential'),
);
if (!scenario) throw new Error('no such scenario');
const variants = named.length > 0 ? named : [...scenario.variants];
if (compare) for (const v of [...variants]) if (v.startsWith('mcp-otel')) variants.push(v + BEFORE);

let gcs = 0;
const kinds: string[] = [];
new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
  for (const e of list.getEntries())
    kinds.push(String((e as { detail?: { kind?: number } }).detail?.kind));
}).observe({ entryTypes: ['gc'] });
const tick = () => new Promise((r) => setTimeout(r, 20));

const receiver = await startReceiver();
const calls = 500;
try {
  for (const variant of variants) {
    const pair = await scenario.open(variant, receiver.url);
    for (let i = 0; i < 2_000; i++) await pair.call();
    await pair.flush();
    const perCall: number[] = [];
    for (let attempt = 0; attempt < 12 && perCall.length < 5; attempt++) {
      gc();
      await tick(); // let the observer report the forced GC before counting
      const before = gcs;
      const heap = process.memoryUsage().heapUsed;
      for (let i = 0; i < calls; i++) await pair.call();
      await pair.flush();
      const grown = process.memoryUsage().heapUsed - heap;
      await tick();
      if (gcs === before) perCall.push(grown / calls);
      else if (process.env.DEBUG) process.stderr.write(`${gcs - before} GCs ${kinds.join(',')}\n`);
      kinds.length = 0;
    }
    await pair.close();
    process.stdout.write(
      `${variant.padEnd(34)} ${perCall.length ? median(perCall).toFixed(0).padStart(7) : '      -'} bytes/call` +
        `  (${perCall.map((b) => b.toFixed(0)).join(' ')})\n`,
    );
  }
} finally {
  receiver.stop();
}

/**
 * CPU profile of one variant: N sequential calls of a scenario (in-memory `tools/call echo` by
 * default), profiled with the inspector around the measured loop only (no start-up, no
 * warm-up), written as a .cpuprofile for bench/profile-summary.mjs. Usage:
 *   node --import tsx bench/profile-calls.ts "mcp-otel server" 50000 [scenario] [out.cpuprofile]
 *   node bench/profile-summary.mjs out.cpuprofile --calls 50000 [--diff baseline.cpuprofile]
 * Runs its own loopback OTLP receiver (bench/receiver.mjs) so the export path is real.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import { SCENARIOS, startReceiver } from './scenarios.js';

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
// Used once, so AsyncLocalStorage's promise hooks are on for every variant alike, baseline
// included (Node 20 turns them on at first use, for good): as in any app where OTel is set up.
context.with(context.active(), () => undefined);

const variant = process.argv[2] ?? 'mcp-otel server';
const calls = Number(process.argv[3] ?? 50_000);
const scenarioName = process.argv[4] ?? 'in-memory sequential';
const out = process.argv[5] ?? `/tmp/${variant.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`;
const scenario = SCENARIOS.find((s) => s.name === scenarioName);
if (!scenario) throw new Error(`no scenario ${scenarioName}`);

const session = new Session();
session.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) =>
    session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
  );

const receiver = await startReceiver();
try {
  const pair = await scenario.open(variant, receiver.url);
  for (let i = 0; i < Math.min(5_000, calls); i++) await pair.call(); // warm-up
  await pair.flush();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 50 });
  await post('Profiler.start');
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < calls; i++) await pair.call();
  await pair.flush();
  const used = process.cpuUsage(cpu);
  const wall = performance.now() - start;
  const { profile } = (await post('Profiler.stop')) as { profile: unknown };
  writeFileSync(out, JSON.stringify(profile));
  await pair.close();
  process.stderr.write(
    `${variant}: ${calls} calls, ${((wall * 1000) / calls).toFixed(1)} µs/call wall, ` +
      `${((used.user + used.system) / calls).toFixed(1)} µs/call CPU → ${out}\n`,
  );
} finally {
  receiver.stop();
  session.disconnect();
}

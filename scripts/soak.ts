/**
 * `npm run soak`: 1,000,000 in-memory MCP requests and 10,000 sessions through the
 * instrumentation, with requests nobody answers; prints the heap after GC once warmed up and at
 * the end, and the internal sizes (connections, pending requests, pagination buffers,
 * per-session tracers, queued events). Exits 1 unless memory is flat (heap within 10% of its
 * warmed-up level) and every size is back where it belongs. The workload lives in
 * test/fixtures/hardening-soak.ts (its short version runs in CI: test/hardening/soak.test.ts).
 *
 *   node --expose-gc --import tsx scripts/soak.ts [--requests N] [--sessions N] [--unanswered N]
 */
import { parseArgs } from 'node:util';
import { mb, runSoak, soakProblems, type Sizes } from '../test/fixtures/hardening-soak.js';

const MAX_GROWTH_PERCENT = 10;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000000' },
    sessions: { type: 'string', default: '10000' },
    unanswered: { type: 'string', default: '1000' },
  },
});

function count(name: string, text: string): number {
  const value = Number(text.replace(/[_,]/g, ''));
  if (!Number.isInteger(value) || value < 0) {
    process.stderr.write(`soak: --${name} must be a whole number, got ${text}\n`);
    process.exit(2);
  }
  return value;
}

const report = await runSoak({
  requests: count('requests', values.requests),
  sessions: count('sessions', values.sessions),
  unanswered: count('unanswered', values.unanswered),
  log: (line) => process.stderr.write(`soak: ${line}\n`),
});

const row = (label: string, s: Sizes): string =>
  `  ${label.padEnd(10)} connections ${s.connections}, pending requests ${s.pendingRequests}, ` +
  `open paginations ${s.openPaginations}, session tracers ${s.sessionTracers}, queued events ${s.queuedEvents}`;

const lines = [
  `requests ${report.requests}, sessions ${report.sessions}, never answered ${report.unanswered}`,
  `elapsed ${(report.elapsedMs / 1000).toFixed(1)} s, ${Math.round(report.requestsPerSecond)} requests/s`,
  `heap after GC: warm-up ${mb(report.heap.warmUp)}, end ${mb(report.heap.end)} (${report.heap.growthPercent >= 0 ? '+' : ''}${report.heap.growthPercent.toFixed(1)}%)`,
  `heap samples: ${report.heap.samples.map(mb).join(', ')}`,
  'sizes:',
  row('warm-up', report.sizes.warmUp),
  row('end', report.sizes.end),
  row('closed', report.sizes.closed),
  `events: ${report.events.requests} request, ${report.events.timeouts} timeout, ${report.events.sessionStarts} session_start, ${report.events.sessionEnds} session_end, ${report.events.dropped} dropped`,
  `spans: ${report.spans.ended} ended, ${report.spans.exported} exported, ${report.spans.dropped} dropped`,
  `metric series (mcp.server.operation.duration): ${report.metricSeries}`,
];
process.stdout.write(`${lines.join('\n')}\n`);

const problems = soakProblems(report, MAX_GROWTH_PERCENT);
if (problems.length > 0) {
  process.stdout.write(`NOT FLAT:\n${problems.map((p) => `  - ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('flat: heap within 10% of warm-up, every size back to its baseline\n');

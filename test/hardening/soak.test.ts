/**
 * Issue 7, "Bounded memory under load", the short CI version of `npm run soak`
 * (scripts/soak.ts): 20,000 in-memory requests and 1,000 sessions opened and closed (half of
 * them walking away in the middle of a paginated tools/list), plus requests nobody ever answers
 * (they must expire after the short `pendingRequestTimeoutMs`). Every internal size returns to
 * its warmed-up level while connections are open, and to 0 once they are closed; every span is
 * exported or counted; heap growth after warm-up stays small (a generous bound here: the full
 * soak holds it to 10%).
 */
import { describe, expect, it } from 'vitest';
import { runSoak, soakProblems, mb } from '../fixtures/hardening-soak.js';

/** Generous: vitest's own heap moves too, and 20,000 requests barely get past warm-up. */
const MAX_GROWTH_PERCENT = 25;

describe('soak (short)', () => {
  it('20,000 requests and 1,000 sessions: sizes back to baseline, unanswered requests expire, heap flat', async () => {
    const report = await runSoak({
      requests: 20_000,
      sessions: 1_000,
      unanswered: 500,
      pendingRequestTimeoutMs: 1_000,
      samples: 4,
      warmUpShare: 0.25,
    });
    process.stderr.write(
      `[hardening] soak (short): ${report.requests} requests, ${report.sessions} sessions, ${
        report.unanswered
      } unanswered in ${(report.elapsedMs / 1000).toFixed(1)} s; heap ${mb(report.heap.warmUp)} → ${mb(
        report.heap.end,
      )} (${report.heap.growthPercent.toFixed(1)}%)\n`,
    );
    expect(soakProblems(report, MAX_GROWTH_PERCENT)).toEqual([]);
    // The workload did what it says.
    expect(report.requests).toBe(20_000);
    expect(report.sessions).toBe(1_000);
    expect(report.events.timeouts).toBe(500);
    // Both sides of every session, and of the long-lived pairs once they close.
    expect(report.events.sessionEnds).toBe(2 * 1_000 + 2 * 4);
    expect(report.sizes.end.connections).toBe(2 * 4 + 1);
    expect(report.sizes.end.sessionTracers).toBe(2 * 4);
    // Bounded metric series: fixed names, whatever the number of requests and sessions.
    expect(report.metricSeries).toBeLessThan(40);
  }, 60_000);
});

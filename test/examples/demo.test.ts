/**
 * `npm run demo` (examples/demo.ts) end to end: three processes, the demo's own OTLP/JSON
 * receiver, the printed trace tree, and forwarding to OTEL_EXPORTER_OTLP_ENDPOINT (here a second
 * receiver on 127.0.0.1 that decodes with the official protos, standing in for Jaeger).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOtlpReceiver, type OtlpReceiver } from '../helpers/otlp-receiver.js';
import { cleanEnv, runExample } from './helpers.js';

interface TreeLine {
  readonly depth: number;
  readonly name: string;
  readonly kind: string;
  readonly service: string;
  readonly rest: string;
}

const LINE =
  /^([│├└─ ]*)(.+?) {2}(INTERNAL|SERVER|CLIENT|PRODUCER|CONSUMER|UNSPECIFIED) {2}(\S+) {2}\d+(?:\.\d+)? m?s(.*)$/;

/** The span lines of the printed tree, with their depth (3 characters of prefix per level). */
function treeLines(stderr: string): TreeLine[] {
  const lines: TreeLine[] = [];
  for (const line of stderr.split('\n')) {
    const match = LINE.exec(line);
    if (!match) continue;
    const [, prefix = '', name = '', kind = '', service = '', rest = ''] = match;
    expect(prefix.length % 3, `prefix of ${JSON.stringify(line)}`).toBe(0);
    lines.push({ depth: prefix.length / 3, name, kind, service, rest });
  }
  return lines;
}

/** Index of the first run of consecutive lines matching `chain`, each one level deeper. */
function findChain(lines: readonly TreeLine[], chain: readonly Partial<TreeLine>[]): number {
  return lines.findIndex((_, start) =>
    chain.every((want, i) => {
      const line = lines[start + i];
      return (
        line !== undefined &&
        line.depth === lines[start]!.depth + i &&
        (want.name === undefined || line.name === want.name) &&
        (want.kind === undefined || line.kind === want.kind) &&
        (want.service === undefined || line.service === want.service)
      );
    }),
  );
}

let backend: OtlpReceiver;

beforeEach(async () => {
  backend = await startOtlpReceiver();
});

afterEach(async () => {
  await backend.close();
});

describe('examples/demo.ts (npm run demo)', () => {
  it('prints one trace tree across three processes on stderr, nothing on stdout, and forwards the OTLP', async () => {
    const run = await runExample(
      'demo.ts',
      cleanEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: backend.url,
        OTEL_EXPORTER_OTLP_HEADERS: 'x-honeycomb-team=test%20key',
      }),
      55_000,
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('');

    const lines = treeLines(run.stderr);
    expect(lines[0]).toMatchObject({
      depth: 0,
      name: 'agent run',
      kind: 'INTERNAL',
      service: 'agent',
    });
    const weather = findChain(lines, [
      { name: 'tools/call get-weather', kind: 'CLIENT', service: 'agent' },
      { name: 'tools/call get-weather', kind: 'SERVER', service: 'weather' },
      { name: 'GET', kind: 'CLIENT', service: 'weather' },
    ]);
    expect(weather, run.stderr).toBeGreaterThan(0);
    expect(lines[weather]?.depth).toBe(1);
    expect(lines[weather]?.rest).toContain('gen_ai.tool.name=get-weather');
    expect(lines[weather + 2]?.rest).toMatch(
      /http\.response\.status_code=200 {2}url\.full=http:\/\/127\.0\.0\.1:\d+\/current\?city=Paris/,
    );

    const note = findChain(lines, [
      { name: 'tools/call add-note', kind: 'CLIENT', service: 'agent' },
      { name: 'tools/call add-note', kind: 'SERVER', service: 'notes' },
    ]);
    expect(note, run.stderr).toBeGreaterThan(0);
    expect(lines[note]?.depth).toBe(1);

    const flaky = lines.filter((l) => l.name === 'tools/call fail-sometimes');
    expect(flaky.filter((l) => l.rest.includes('error.type=tool_error'))).toHaveLength(2);
    expect(lines.filter((l) => l.name === 'tools/list' && l.service === 'notes')).toHaveLength(6);
    expect(lines.some((l) => l.rest.includes('(parent span not received)'))).toBe(false);

    const summary = /(\d+) spans in 1 trace from 3 services \(([^)]*)\)/.exec(run.stderr);
    expect(summary, run.stderr).not.toBeNull();
    expect(Number(summary![1])).toBe(lines.length);
    expect(summary![2]!.split(', ').sort()).toEqual(['agent', 'notes', 'weather']);

    // Forwarded: valid OTLP (decoded with the official protos), the same spans, the user's headers.
    expect(run.stderr).toMatch(/demo: forwarded \d+ payload\(s\) to http:\/\/127\.0\.0\.1:\d+\n/);
    const traces = backend.requests.filter((r) => r.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    expect(traces.every((r) => r.decodeError === undefined && r.encoding === 'json')).toBe(true);
    expect(traces.every((r) => r.headers['x-honeycomb-team'] === 'test key')).toBe(true);
    expect(backend.spans()).toHaveLength(lines.length);
    const traceId = /^trace ([0-9a-f]{32}) /m.exec(run.stderr)?.[1];
    expect(new Set(backend.spans().map((s) => s.span.traceId))).toEqual(new Set([traceId]));
  }, 60_000);
});

/**
 * examples/clients/agent.ts as a script: it starts both servers as child processes, and all
 * three processes export OTLP (the default http/protobuf) to a receiver on 127.0.0.1 that
 * decodes with the official protos. The spans must form ONE tree across the three processes.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  startOtlpReceiver,
  type OtlpAttributes,
  type OtlpReceiver,
  type OtlpSpan,
} from '../helpers/otlp-receiver.js';
import { cleanEnv, runExample } from './helpers.js';

const SPAN_KIND_INTERNAL = 1;

let receiver: OtlpReceiver;

beforeEach(async () => {
  receiver = await startOtlpReceiver();
});

afterEach(async () => {
  await receiver.close();
});

describe('examples/clients/agent.ts', () => {
  it('runs against both servers and exports one trace across three processes', async () => {
    const run = await runExample(
      'clients/agent.ts',
      cleanEnv({
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_METRICS_EXPORTER: 'none',
        OTEL_LOGS_EXPORTER: 'none',
      }),
      50_000,
    );
    // Only the three processes' own lines: no diagnostics, no stack traces.
    const lines = run.stderr.split('\n').filter((line) => line !== '');
    expect(lines.filter((line) => !/^(agent|weather|notes): /.test(line))).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain('agent: Paris: 18°C, light rain');
    expect(run.stderr).toContain('agent: fail-sometimes isError per attempt: true, false');
    expect(run.stderr).toContain(
      'agent: notes has 52 tools in 3 pages; after add-note (list_changed: true) 53',
    );

    expect(receiver.requests.every((r) => r.decodeError === undefined)).toBe(true);
    const spans = receiver.spans();
    const service = (resource: OtlpAttributes) => resource['service.name'];
    const find = (name: string, kind: number, svc: string): OtlpSpan => {
      const found = spans.filter(
        (s) => s.span.name === name && s.span.kind === kind && service(s.resource) === svc,
      );
      expect(found, `${name} ${kind} in ${svc}`).toHaveLength(1);
      return found[0]!.span;
    };

    const root = find('agent run', SPAN_KIND_INTERNAL, 'agent');
    expect(root.parentSpanId).toBe('');
    expect(run.stderr).toContain(`agent: trace ${root.traceId}`);
    // Everything the agent did, in every process, is in the agent's trace.
    expect(new Set(spans.map((s) => s.span.traceId))).toEqual(new Set([root.traceId]));
    expect(new Set(spans.map((s) => service(s.resource)))).toEqual(
      new Set(['agent', 'weather', 'notes']),
    );

    // agent run → tools/call get-weather (agent) → tools/call get-weather (weather) → GET
    const weatherClient = find('tools/call get-weather', SPAN_KIND_CLIENT, 'agent');
    const weatherServer = find('tools/call get-weather', SPAN_KIND_SERVER, 'weather');
    const get = spans.find(
      (s) => s.span.name === 'GET' && s.span.parentSpanId === weatherServer.spanId,
    )?.span;
    expect(weatherClient.parentSpanId).toBe(root.spanId);
    expect(weatherServer.parentSpanId).toBe(weatherClient.spanId);
    expect(get?.kind).toBe(SPAN_KIND_CLIENT);
    expect(get?.attributes['url.full']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/current\?city=Paris$/);

    // agent run → tools/call add-note (agent) → tools/call add-note (notes)
    const noteClient = find('tools/call add-note', SPAN_KIND_CLIENT, 'agent');
    const noteServer = find('tools/call add-note', SPAN_KIND_SERVER, 'notes');
    expect(noteClient.parentSpanId).toBe(root.spanId);
    expect(noteServer.parentSpanId).toBe(noteClient.spanId);
    expect(noteServer.attributes['network.transport']).toBe('tcp');

    // The flaky tool's first attempt is a tool error on both sides.
    const flaky = spans.filter((s) => s.span.name === 'tools/call fail-sometimes');
    expect(flaky.map((s) => s.span.attributes['error.type'] ?? null).sort()).toEqual([
      null,
      null,
      'tool_error',
      'tool_error',
    ]);
  }, 60_000);
});

/** The demo's pieces that need no processes: the tree renderer and the OTLP headers parser. */
import { describe, expect, it } from 'vitest';
import { parseOtlpHeaders, type ReceivedSpan } from '../../examples/demo/otlp-json-receiver.js';
import { renderTraceTree } from '../../examples/demo/trace-tree.js';

const MS = 1_000_000n;

function span(
  fields: Partial<ReceivedSpan> & Pick<ReceivedSpan, 'spanId' | 'name'> & { service: string },
): ReceivedSpan {
  const { service, ...rest } = fields;
  return {
    traceId: 'a'.repeat(32),
    parentSpanId: '',
    kind: 1,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 5n * MS,
    attributes: {},
    events: [],
    status: { code: 0, message: '' },
    resource: { 'service.name': service },
    ...rest,
  };
}

describe('renderTraceTree', () => {
  it('nests spans under their parents across services, siblings in start order', () => {
    const spans = [
      // Arrival order is export order (children first), not tree order.
      span({
        spanId: 'get',
        parentSpanId: 'srv',
        name: 'GET',
        kind: 3,
        service: 'weather',
        startTimeUnixNano: 3n * MS,
        endTimeUnixNano: 4n * MS,
        attributes: { 'http.response.status_code': 200, 'url.full': 'http://127.0.0.1:1/x' },
      }),
      span({
        spanId: 'srv',
        parentSpanId: 'cli',
        name: 'tools/call get-weather',
        kind: 2,
        service: 'weather',
        startTimeUnixNano: 2n * MS,
        endTimeUnixNano: 5n * MS,
        attributes: { 'gen_ai.tool.name': 'get-weather', 'mcp.session.id': '0123456789abcdef' },
      }),
      span({
        spanId: 'late',
        parentSpanId: 'root',
        name: 'tools/call fail-sometimes',
        kind: 3,
        service: 'agent',
        startTimeUnixNano: 7n * MS,
        endTimeUnixNano: 8n * MS,
        attributes: { 'error.type': 'tool_error' },
        status: { code: 2, message: 'station offline' },
      }),
      span({
        spanId: 'cli',
        parentSpanId: 'root',
        name: 'tools/call get-weather',
        kind: 3,
        service: 'agent',
        startTimeUnixNano: 1n * MS,
        endTimeUnixNano: 6n * MS,
        events: ['mcp.schema.version_created'],
      }),
      span({ spanId: 'root', name: 'agent run', service: 'agent', endTimeUnixNano: 1500n * MS }),
    ];
    expect(renderTraceTree(spans)).toBe(
      [
        `trace ${'a'.repeat(32)}  (5 spans; weather, agent)`,
        'agent run  INTERNAL  agent  1.50 s',
        '├─ tools/call get-weather  CLIENT  agent  5.0 ms  +mcp.schema.version_created',
        '│  └─ tools/call get-weather  SERVER  weather  3.0 ms  gen_ai.tool.name=get-weather  mcp.session.id=01234567…',
        '│     └─ GET  CLIENT  weather  1.0 ms  http.response.status_code=200  url.full=http://127.0.0.1:1/x',
        '└─ tools/call fail-sometimes  CLIENT  agent  1.0 ms  error.type=tool_error  ERROR "station offline"',
        '',
        '5 spans in 1 trace from 2 services (weather, agent)',
        '',
      ].join('\n'),
    );
  });

  it('groups by trace, oldest first, and marks spans whose parent never arrived', () => {
    const text = renderTraceTree([
      span({
        traceId: 'b'.repeat(32),
        spanId: 'b1',
        name: 'second',
        service: 's',
        startTimeUnixNano: 9n,
      }),
      span({
        traceId: 'c'.repeat(32),
        spanId: 'c1',
        parentSpanId: 'gone',
        name: 'orphan',
        service: 's',
      }),
    ]);
    const lines = text.split('\n');
    expect(lines[0]).toBe(`trace ${'c'.repeat(32)}  (1 span; s)`);
    expect(lines[1]).toBe('orphan  INTERNAL  s  5.0 ms  (parent span not received)');
    expect(lines[3]).toBe(`trace ${'b'.repeat(32)}  (1 span; s)`);
    expect(text).toContain('2 spans in 2 traces from 1 service (s)');
  });
});

describe('parseOtlpHeaders', () => {
  it('reads key=value pairs, URL-decoded, skipping malformed entries', () => {
    expect(parseOtlpHeaders('x-honeycomb-team=abc%20def, x-dataset = mcp ,bad,=x')).toEqual({
      'x-honeycomb-team': 'abc def',
      'x-dataset': 'mcp',
    });
    expect(parseOtlpHeaders(undefined)).toEqual({});
  });
});

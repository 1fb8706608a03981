/**
 * Renders received spans as a readable tree: one block per trace, spans nested under their
 * parents (across processes: the parent of a server span is the client span of another
 * process), siblings in start order. One line per span:
 *
 *   ├─ tools/call get-weather  SERVER  weather  12.3 ms  gen_ai.tool.name=get-weather …
 */
import type { ReceivedSpan } from './otlp-json-receiver.js';

const KIND_NAMES = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

/** The attributes worth a glance, in the order they are shown. */
export const KEY_ATTRIBUTES = [
  'gen_ai.tool.name',
  'gen_ai.prompt.name',
  'mcp.resource.uri',
  'jsonrpc.request.id',
  'mcp.session.id',
  'error.type',
  'http.response.status_code',
  'url.full',
] as const;

/** The whole report: every trace, oldest first, then a one-line summary. */
export function renderTraceTree(spans: readonly ReceivedSpan[]): string {
  const traces = new Map<string, ReceivedSpan[]>();
  for (const span of spans) {
    const group = traces.get(span.traceId) ?? [];
    group.push(span);
    traces.set(span.traceId, group);
  }
  const ordered = [...traces.values()].sort((a, b) => compare(earliest(a), earliest(b)));
  const blocks = ordered.map(renderTrace);
  const services = new Set(spans.map(serviceOf));
  const summary = `${plural(spans.length, 'span')} in ${plural(traces.size, 'trace')} from ${plural(services.size, 'service')} (${[...services].join(', ')})`;
  return [...blocks, summary].join('\n\n') + '\n';
}

function renderTrace(spans: readonly ReceivedSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, ReceivedSpan[]>();
  const roots: ReceivedSpan[] = [];
  for (const span of spans) {
    if (span.parentSpanId === '' || !ids.has(span.parentSpanId)) {
      roots.push(span);
      continue;
    }
    const siblings = children.get(span.parentSpanId) ?? [];
    siblings.push(span);
    children.set(span.parentSpanId, siblings);
  }
  const services = new Set(spans.map(serviceOf));
  const lines = [
    `trace ${spans[0]?.traceId ?? '?'}  (${plural(spans.length, 'span')}; ${[...services].join(', ')})`,
  ];
  const walk = (span: ReceivedSpan, lead: string, branch: string): void => {
    lines.push(lead + branch + describe(span, ids));
    const kids = (children.get(span.spanId) ?? []).sort(byStart);
    const next = lead + (branch === '├─ ' ? '│  ' : branch === '└─ ' ? '   ' : '');
    kids.forEach((kid, i) => walk(kid, next, i === kids.length - 1 ? '└─ ' : '├─ '));
  };
  for (const root of roots.sort(byStart)) walk(root, '', '');
  return lines.join('\n');
}

/** `name  KIND  service  duration  key=value … [ERROR message] [+event …]` */
export function describe(span: ReceivedSpan, known: ReadonlySet<string> = new Set()): string {
  const parts = [
    span.name,
    KIND_NAMES[span.kind] ?? `KIND_${span.kind}`,
    serviceOf(span),
    formatDuration(span.endTimeUnixNano - span.startTimeUnixNano),
  ];
  const attributes: string[] = [];
  for (const key of KEY_ATTRIBUTES) {
    const value = span.attributes[key];
    if (value === undefined) continue;
    const shown =
      key === 'mcp.session.id' && typeof value === 'string' && value.length > 8
        ? `${value.slice(0, 8)}…`
        : show(value);
    attributes.push(`${key}=${shown}`);
  }
  if (span.status.code === 2) attributes.push(`ERROR ${JSON.stringify(span.status.message)}`);
  for (const event of span.events) attributes.push(`+${event}`);
  if (span.parentSpanId !== '' && !known.has(span.parentSpanId)) {
    attributes.push('(parent span not received)');
  }
  return [...parts, ...attributes].join('  ');
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function serviceOf(span: ReceivedSpan): string {
  const name = span.resource['service.name'];
  return typeof name === 'string' && name !== '' ? name : 'unknown_service';
}

function formatDuration(nanos: bigint): string {
  const ms = Number(nanos) / 1e6;
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function earliest(spans: readonly ReceivedSpan[]): bigint {
  return spans.reduce(
    (min, s) => (s.startTimeUnixNano < min ? s.startTimeUnixNano : min),
    spans[0]?.startTimeUnixNano ?? 0n,
  );
}

function compare(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byStart(a: ReceivedSpan, b: ReceivedSpan): number {
  return compare(a.startTimeUnixNano, b.startTimeUnixNano);
}

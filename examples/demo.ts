/**
 * `npm run demo`: an instrumented agent talks to two instrumented MCP servers (weather over
 * stdio, notes over Streamable HTTP; each its own process) and the whole run is printed as a
 * trace tree on stderr. No collector needed: the demo receives the OTLP itself.
 *
 * How: a tiny OTLP/HTTP JSON receiver on 127.0.0.1; every process (this one and the servers
 * the agent starts) exports to it through the standard OTEL_* variables; when everything has
 * shut down (and so flushed), the spans are printed, nested by parent across processes.
 *
 * With OTEL_EXPORTER_OTLP_ENDPOINT set (and OTEL_EXPORTER_OTLP_HEADERS, if your backend needs
 * them), every payload is ALSO forwarded there, as OTLP/JSON, so the same trace shows up in
 * Jaeger, Honeycomb or your collector.
 *
 *   npm run demo
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npm run demo
 *
 * Nothing is written to stdout.
 */
import { pathToFileURL } from 'node:url';
import { parseOtlpHeaders, startOtlpJsonReceiver } from './demo/otlp-json-receiver.js';
import { renderTraceTree } from './demo/trace-tree.js';

/** Variables that would send a signal somewhere other than the receiver. */
const OVERRIDDEN = [
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL',
  'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
];

export interface DemoResult {
  /** The tree as printed. */
  readonly tree: string;
  readonly spans: number;
}

export async function main(): Promise<DemoResult> {
  const userEndpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const forward = userEndpoint
    ? {
        endpoint: userEndpoint,
        headers: parseOtlpHeaders(process.env.OTEL_EXPORTER_OTLP_HEADERS),
      }
    : undefined;
  const receiver = await startOtlpJsonReceiver(forward);

  // Before anything is instrumented: the pipeline reads these when the first instrument() call
  // creates it, and the servers inherit them.
  for (const name of OVERRIDDEN) delete process.env[name];
  process.env.OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url;
  process.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
  process.env.OTEL_TRACES_EXPORTER = 'otlp';
  process.env.OTEL_METRICS_EXPORTER = 'otlp'; // forwarded too; `console` would write to stdout
  process.env.OTEL_LOGS_EXPORTER = 'none';

  process.stderr.write(
    `demo: OTLP receiver on ${receiver.url}` +
      (forward ? `, forwarding to ${forward.endpoint}` : '') +
      '\n',
  );

  // Imported only now, so nothing of mcp-otel can have looked at the environment before.
  const { main: runAgent } = await import('./clients/agent.js');
  const { shutdown } = await import('mcp-otel');
  let tree = '';
  try {
    await runAgent(); // returns once both servers have exited, i.e. flushed their spans
  } finally {
    // Even when the agent failed: whatever arrived is worth seeing.
    await shutdown(); // this process's spans
    const report = await receiver.close();
    tree = renderTraceTree(receiver.spans);
    process.stderr.write('\n' + tree);
    if (forward) {
      process.stderr.write(
        `demo: forwarded ${report.ok} payload(s) to ${forward.endpoint}` +
          (report.failed.length > 0
            ? `; ${report.failed.length} failed, first: ${report.failed[0]}`
            : '') +
          '\n',
      );
    }
  }
  return { tree, spans: receiver.spans.length };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

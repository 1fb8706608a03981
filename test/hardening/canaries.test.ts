/**
 * Issue 7, "Security and privacy", with DEFAULT options (no content capture): canary strings
 * planted in tool arguments, a tool result, a resource body, a prompt's arguments and text, and
 * the Authorization and Cookie headers of every HTTP request appear nowhere: not in the raw
 * OTLP bytes that reach a collector over a real socket (OTLP/JSON and OTLP/protobuf), not in any
 * event, not in any diagnostic. Error messages are capped at 512 characters in events and span
 * status, and a stack trace the peer puts on the wire (`error.data.stack`) is never exported.
 * (Content capture on, redaction and caps: test/integration/otel-content.test.ts. The proxy's
 * header logging: test/integration/cli-proxy.test.ts.)
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import {
  EventBus,
  createMemorySink,
  createOtelSink,
  instrument,
  type MemorySink,
} from '../../src/index.js';
import {
  captureDiagnostics,
  startRawCollector,
  type CapturedDiagnostics,
  type RawCollector,
} from '../fixtures/hardening-helpers.js';
import { startOtelHttpHost, type OtelHttpHost } from '../fixtures/otel-harness.js';
import { decodeTraces, type OtlpSpan, type OtlpValue } from '../helpers/otlp-receiver.js';

const unique = Math.random().toString(36).slice(2, 10);
const CANARIES = {
  toolArgument: `canary-arg-${unique}`,
  toolResult: `canary-result-${unique}`,
  structuredResult: `canary-structured-${unique}`,
  resourceBody: `canary-resource-${unique}`,
  promptArgument: `canary-prompt-arg-${unique}`,
  promptText: `canary-prompt-text-${unique}`,
  authorization: `canary-auth-${unique}`,
  cookie: `canary-cookie-${unique}`,
} as const;
/** Longer than the 512-character cap. */
const LONG_MESSAGE = `explosion ${'x'.repeat(700)}`;
const MAX_ERROR_MESSAGE = 512;
/** What a stack frame of this file looks like in any stack trace. */
const STACK_FRAME = /\n\s+at |canaries\.test\.ts:\d+/;

let cleanups: Array<() => Promise<unknown>> = [];
let diagnostics: CapturedDiagnostics | undefined;

afterEach(async () => {
  for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  cleanups = [];
  diagnostics?.restore();
});

/** A server holding every kind of content, and two ways to fail with a long message. */
function secretServer(): McpServer {
  const server = new McpServer({ name: 'canary-server', version: '1.0.0' });
  server.registerTool(
    'lookup',
    { description: 'Answers with secrets', inputSchema: { query: z.string() } },
    ({ query }) => ({
      content: [{ type: 'text', text: `${CANARIES.toolResult} for ${query.length} chars` }],
      structuredContent: { answer: CANARIES.structuredResult },
    }),
  );
  server.registerTool('explodes', { description: 'Throws a long error' }, () => {
    throw new Error(LONG_MESSAGE);
  });
  server.registerResource('vault', 'vault://item/1', { description: 'A secret' }, (uri) => ({
    contents: [{ uri: uri.href, text: CANARIES.resourceBody }],
  }));
  server.registerPrompt(
    'whisper',
    { description: 'Secret prompt', argsSchema: { who: z.string() } },
    ({ who }) => ({
      messages: [
        { role: 'user', content: { type: 'text', text: `${CANARIES.promptText} to ${who}` } },
      ],
    }),
  );
  server.registerPrompt('crashes', { description: 'Fails with a stack on the wire' }, () => {
    const error = new Error(LONG_MESSAGE);
    // The SDK sends `data` as JSON-RPC error.data: the stack is on the wire.
    throw Object.assign(error, { data: { stack: error.stack } });
  });
  return server;
}

interface Run {
  readonly collector: RawCollector;
  readonly events: MemorySink;
  readonly diagnostics: CapturedDiagnostics;
  readonly wireErrors: { tool: string; prompt: string };
}

/** The whole conversation over Streamable HTTP, both sides instrumented with default options. */
async function converse(encoding: 'json' | 'protobuf'): Promise<Run> {
  diagnostics = captureDiagnostics();
  const collector = await startRawCollector();
  cleanups.push(() => collector.close());
  const Exporter = encoding === 'json' ? JsonExporter : ProtoExporter;
  const otel = createOtelSink({
    spanExporter: new Exporter({ url: collector.url }),
    batch: { scheduledDelayMillis: 20 },
  });
  const events = createMemorySink();
  const bus = new EventBus({ sinks: [otel, events] });
  cleanups.push(() => bus.shutdown());
  const host: OtelHttpHost = await startOtelHttpHost(bus, undefined, secretServer);
  cleanups.push(() => host.close());

  const client = instrument(new Client({ name: 'canary-client', version: '1.0.0' }), {
    bus,
    heartbeatIntervalMs: 0,
  });
  const transport = new StreamableHTTPClientTransport(host.url, {
    requestInit: {
      headers: {
        Authorization: `Bearer ${CANARIES.authorization}`,
        Cookie: `session=${CANARIES.cookie}`,
      },
    },
  });
  await client.connect(transport);
  cleanups.push(() => client.close());

  const looked = await client.callTool({
    name: 'lookup',
    arguments: { query: CANARIES.toolArgument },
  });
  expect(JSON.stringify(looked)).toContain(CANARIES.toolResult);
  const read = await client.readResource({ uri: 'vault://item/1' });
  expect(JSON.stringify(read)).toContain(CANARIES.resourceBody);
  const prompt = await client.getPrompt({
    name: 'whisper',
    arguments: { who: CANARIES.promptArgument },
  });
  expect(JSON.stringify(prompt)).toContain(CANARIES.promptText);
  const exploded = await client.callTool({ name: 'explodes' });
  expect(exploded.isError).toBe(true);
  const toolWireError = (exploded.content as Array<{ text: string }>)[0]!.text;
  const promptWireError = await client.getPrompt({ name: 'crashes' }).then(
    () => '',
    (error: unknown) => JSON.stringify(error, Object.getOwnPropertyNames(error)),
  );
  await client.close();
  await bus.flush();
  return {
    collector,
    events,
    diagnostics,
    wireErrors: { tool: toolWireError, prompt: promptWireError },
  };
}

function bodyOf(request: RawCollector['requests'][number]): Buffer {
  return request.headers['content-encoding'] === 'gzip' ? gunzipSync(request.body) : request.body;
}

function stringsOf(value: OtlpValue, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const item of value) stringsOf(item as OtlpValue, out);
  else if (value !== null && typeof value === 'object')
    for (const item of Object.values(value)) stringsOf(item, out);
  return out;
}

/** Every string an exported span carries: name, attribute values, event and link attributes, status. */
function spanStrings(span: OtlpSpan): string[] {
  const out = [span.name, span.status.message];
  stringsOf(span.attributes, out);
  for (const event of span.events) stringsOf(event.attributes, out);
  for (const link of span.links) stringsOf(link.attributes, out);
  return out;
}

describe.each([['json'], ['protobuf']] as const)(
  'default options, OTLP/%s over a real socket',
  (encoding) => {
    it('no canary appears in the exported bytes, the events or the diagnostics', async () => {
      const run = await converse(encoding);
      const traces = run.collector.requests.filter((r) => r.path === '/v1/traces');
      expect(traces.length).toBeGreaterThan(0);
      const spans = traces.flatMap((r) =>
        decodeTraces(bodyOf(r), encoding).resourceSpans.flatMap((rs) =>
          rs.scopeSpans.flatMap((ss) => ss.spans),
        ),
      );
      // The payloads searched are the ones that describe the calls that carried the canaries.
      const names = spans.map((s) => s.name);
      for (const name of ['tools/call lookup', 'resources/read', 'prompts/get whisper'])
        expect(names.filter((n) => n === name)).toHaveLength(2); // client and server

      const raw = Buffer.concat(run.collector.requests.map(bodyOf));
      const events = JSON.stringify(run.events.events);
      const logged = run.diagnostics.messages.join('\n');
      for (const [where, canary] of Object.entries(CANARIES)) {
        expect(raw.includes(Buffer.from(canary, 'utf8')), `${where} in the OTLP bytes`).toBe(false);
        expect(events.includes(canary), `${where} in the events`).toBe(false);
        expect(logged.includes(canary), `${where} in the diagnostics`).toBe(false);
      }
      // Tool and prompt names are metadata, not content: they are there.
      expect(raw.includes(Buffer.from('lookup'))).toBe(true);
    });

    it('error messages are capped at 512 characters and stack traces never exported', async () => {
      const run = await converse(encoding);
      // The peer really sent the long message, and for the prompt its stack, on the wire.
      expect(run.wireErrors.tool).toContain(LONG_MESSAGE);
      expect(run.wireErrors.prompt).toMatch(STACK_FRAME);

      const spans = run.collector.requests
        .filter((r) => r.path === '/v1/traces')
        .flatMap((r) =>
          decodeTraces(bodyOf(r), encoding).resourceSpans.flatMap((rs) =>
            rs.scopeSpans.flatMap((ss) => ss.spans),
          ),
        );
      const failed = spans.filter(
        (s) => s.name === 'tools/call explodes' || s.name === 'prompts/get crashes',
      );
      expect(failed).toHaveLength(4);
      for (const span of failed) {
        expect(span.status.code).toBe(2);
        expect(span.status.message.length).toBe(MAX_ERROR_MESSAGE);
        expect(LONG_MESSAGE).toContain(span.status.message);
      }
      for (const span of spans) {
        for (const text of spanStrings(span)) {
          expect(text.length, span.name).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
          expect(text, span.name).not.toMatch(STACK_FRAME);
        }
      }
      const raw = Buffer.concat(run.collector.requests.map(bodyOf)).toString('latin1');
      expect(raw).not.toMatch(/canaries\.test\.ts/);

      const errors = run.events.ofType('request').filter((e) => e.errorMsg !== undefined);
      expect(errors.length).toBeGreaterThanOrEqual(4);
      for (const event of errors) {
        expect(event.errorMsg!.length).toBeLessThanOrEqual(MAX_ERROR_MESSAGE);
        expect(event.errorMsg).not.toMatch(STACK_FRAME);
      }
      expect(JSON.stringify(run.events.events)).not.toMatch(/canaries\.test\.ts/);
    });
  },
);

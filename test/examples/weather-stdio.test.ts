/**
 * examples/servers/weather-stdio.ts, run as a user runs it: a child process on stdio, driven by
 * a real SDK Client, its spans written to stderr by OTEL_TRACES_EXPORTER=console.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ROOT, cleanEnv, examplePath } from './helpers.js';

const REQUEST = { timeout: 20_000 };

/** A span as StderrSpanExporter prints it (API SpanKind: 1 SERVER, 2 CLIENT). */
interface PrintedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number; message?: string };
  resource: Record<string, unknown>;
}

const SERVER = 1;
const CLIENT = 2;

let client: Client | undefined;
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  await client?.close().catch(() => undefined);
  client = undefined;
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Starts the example with `env`, connects a plain (uninstrumented) client. */
async function connect(env: Record<string, string>): Promise<{ stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', examplePath('servers/weather-stdio.ts')],
    cwd: ROOT,
    env: cleanEnv({
      OTEL_TRACES_EXPORTER: 'console',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...env,
    }),
    stderr: 'pipe',
  });
  let text = '';
  transport.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  client = new Client({ name: 'weather-test', version: '1.0.0' });
  await client.connect(transport, REQUEST);
  return { stderr: () => text };
}

/** Closes the client (stdin ends; the server flushes and exits) and reads the printed spans. */
async function closeAndReadSpans(stderr: () => string): Promise<PrintedSpan[]> {
  await client!.close(); // resolves once the child process has closed its pipes
  client = undefined;
  return stderr()
    .split('\n')
    .filter((line) => line.startsWith('{"traceId"'))
    .map((line) => JSON.parse(line) as PrintedSpan);
}

function text(result: unknown): string {
  return (result as { content: { text: string }[] }).content.map((c) => c.text).join('\n');
}

describe('examples/servers/weather-stdio.ts', () => {
  it('serves its tools, prompt and resource, and each fetch is a CLIENT span under its tool span', async () => {
    const { stderr } = await connect({});
    const c = client!;

    const tools = await c.listTools(undefined, REQUEST);
    expect(tools.tools.map((t) => t.name).sort()).toEqual([
      'fail-sometimes',
      'get-forecast',
      'get-weather',
    ]);
    const weather = await c.callTool(
      { name: 'get-weather', arguments: { city: 'Paris' } },
      undefined,
      REQUEST,
    );
    expect(weather.isError).toBeFalsy();
    expect(text(weather)).toBe('Paris: 18°C, light rain');
    const forecast = await c.callTool(
      { name: 'get-forecast', arguments: { city: 'Tokyo', days: 2 } },
      undefined,
      REQUEST,
    );
    expect(text(forecast).split('\n')).toHaveLength(3);
    const unknown = await c.callTool(
      { name: 'get-weather', arguments: { city: 'Atlantis' } },
      undefined,
      REQUEST,
    );
    expect(unknown.isError).toBe(true);
    const odd = await c.callTool(
      { name: 'fail-sometimes', arguments: { attempt: 1 } },
      undefined,
      REQUEST,
    );
    const even = await c.callTool(
      { name: 'fail-sometimes', arguments: { attempt: 2 } },
      undefined,
      REQUEST,
    );
    expect([odd.isError, even.isError ?? false]).toEqual([true, false]);
    const prompts = await c.listPrompts(undefined, REQUEST);
    expect(prompts.prompts.map((p) => p.name)).toEqual(['weather-report']);
    const prompt = await c.getPrompt(
      { name: 'weather-report', arguments: { city: 'Lima' } },
      REQUEST,
    );
    expect(JSON.stringify(prompt.messages)).toContain('weather report for Lima');
    const resource = await c.readResource({ uri: 'weather://cities' }, REQUEST);
    const cities = resource.contents[0] as { text: string };
    expect(Object.keys(JSON.parse(cities.text) as object)).toContain('paris');

    const spans = await closeAndReadSpans(stderr);
    const byName = (name: string, kind: number): PrintedSpan[] =>
      spans.filter((s) => s.name === name && s.kind === kind);

    // get-weather Paris: SERVER span, and the fetch's GET span inside it.
    const weatherSpans = byName('tools/call get-weather', SERVER);
    expect(weatherSpans).toHaveLength(2);
    const gets = byName('GET', CLIENT);
    expect(gets).toHaveLength(3); // current Paris, forecast Tokyo, current Atlantis
    for (const get of gets) {
      const parent = spans.find((s) => s.spanId === get.parentSpanId);
      expect(parent?.kind).toBe(SERVER);
      expect(parent?.name).toMatch(/^tools\/call get-(weather|forecast)$/);
      expect(get.traceId).toBe(parent?.traceId);
      expect(String(get.attributes['url.full'])).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }
    const paris = gets.find((g) => String(g.attributes['url.full']).includes('city=Paris'));
    expect(paris?.attributes['http.response.status_code']).toBe(200);
    const atlantis = gets.find((g) => String(g.attributes['url.full']).includes('Atlantis'));
    expect(atlantis?.attributes['http.response.status_code']).toBe(404);

    // isError results are tool errors on the span.
    const flaky = byName('tools/call fail-sometimes', SERVER);
    expect(flaky.map((s) => s.attributes['error.type'])).toEqual(['tool_error', undefined]);
    expect(flaky[0]?.status.code).toBe(2);

    expect(byName('prompts/get weather-report', SERVER)).toHaveLength(1);
    expect(byName('resources/read', SERVER).map((s) => s.attributes['mcp.resource.uri'])).toEqual([
      'weather://cities',
    ]);
    expect(new Set(spans.map((s) => s.resource['service.name']))).toEqual(new Set(['weather']));
  }, 45_000);

  it('calls the API at WEATHER_API_URL, with the trace context of the tool span in traceparent', async () => {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
    const api = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ city: 'paris', temperatureC: 31, conditions: 'heat wave' }));
    });
    api.listen(0, '127.0.0.1');
    await once(api, 'listening');
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          api.closeAllConnections();
          api.close(() => resolve());
        }),
    );
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

    const { stderr } = await connect({ WEATHER_API_URL: apiUrl });
    const result = await client!.callTool(
      { name: 'get-weather', arguments: { city: 'Paris' } },
      undefined,
      REQUEST,
    );
    expect(text(result)).toBe('Paris: 31°C, heat wave');
    expect(stderr()).toContain(`weather API ${apiUrl}`);

    const spans = await closeAndReadSpans(stderr);
    const tool = spans.find((s) => s.name === 'tools/call get-weather' && s.kind === SERVER);
    const get = spans.find((s) => s.name === 'GET' && s.kind === CLIENT);
    expect(get?.parentSpanId).toBe(tool?.spanId);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe('/current?city=Paris');
    // W3C traceparent: version-traceid-parentid-flags; the API sees the GET span as its parent.
    expect(seen[0]?.headers.traceparent).toBe(`00-${tool?.traceId}-${get?.spanId}-01`);
  }, 45_000);
});

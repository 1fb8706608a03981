/**
 * A weather MCP server on stdio, instrumented with one line: `instrument(server)`.
 *
 * - `get-weather` and `get-forecast` call a weather HTTP API with `fetch`. With
 *   `@opentelemetry/instrumentation-undici` registered, each fetch is an HTTP CLIENT span nested
 *   under the tool's SERVER span (the OTel sink keeps that span active while the handler runs).
 * - `fail-sometimes` answers `isError: true` on odd attempts (a tool error, not a protocol error).
 * - one prompt (`weather-report`) and one resource (`weather://cities`).
 *
 * The API's base URL comes from WEATHER_API_URL. When it is unset, the server starts a tiny fake
 * weather API on 127.0.0.1 in-process, so the example works offline and never calls an outside host.
 *
 * Where spans go is up to the standard OTEL_* variables (OTLP to localhost:4318 by default;
 * OTEL_TRACES_EXPORTER=console writes them to stderr). stdout belongs to JSON-RPC.
 *
 *   OTEL_TRACES_EXPORTER=console npx tsx examples/servers/weather-stdio.ts
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { z } from 'zod';
import { instrument, shutdown } from 'mcp-otel';

/** The cities the fake API knows, with made-up but stable weather. */
export const CITIES: Readonly<Record<string, { temperatureC: number; conditions: string }>> = {
  paris: { temperatureC: 18, conditions: 'light rain' },
  london: { temperatureC: 14, conditions: 'overcast' },
  tokyo: { temperatureC: 24, conditions: 'clear' },
  nairobi: { temperatureC: 22, conditions: 'partly cloudy' },
  lima: { temperatureC: 19, conditions: 'mist' },
};

const CONDITIONS = ['clear', 'partly cloudy', 'overcast', 'light rain', 'showers'] as const;

export interface FakeWeatherApi {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * A fake weather API on 127.0.0.1 (a free port): `GET /current?city=` and
 * `GET /forecast?city=&days=`, JSON answers, 404 for an unknown city.
 */
export async function startFakeWeatherApi(): Promise<FakeWeatherApi> {
  const http = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const city = (url.searchParams.get('city') ?? '').toLowerCase();
    const today = CITIES[city];
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.method !== 'GET') return send(405, { error: 'method not allowed' });
    if (!today) return send(404, { error: `unknown city: ${city}` });
    if (url.pathname === '/current') return send(200, { city, ...today });
    if (url.pathname === '/forecast') {
      const days = Math.min(Math.max(Number(url.searchParams.get('days') ?? '3') || 3, 1), 7);
      const forecast = Array.from({ length: days }, (_, i) => ({
        day: i + 1,
        highC: today.temperatureC + ((i * 3) % 5) - 1,
        conditions: CONDITIONS[(city.length + i) % CONDITIONS.length],
      }));
      return send(200, { city, forecast });
    }
    send(404, { error: 'not found' });
  });
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

/** The weather server itself: three tools, one prompt, one resource. */
export function createWeatherServer(apiUrl: string): McpServer {
  const server = new McpServer({ name: 'weather', version: '1.0.0' });

  async function getJson(path: string): Promise<{ status: number; body: unknown }> {
    const response = await fetch(new URL(path, apiUrl));
    return { status: response.status, body: await response.json() };
  }

  server.registerTool(
    'get-weather',
    {
      description: 'Current weather for a city',
      inputSchema: { city: z.string().describe('City name, e.g. Paris') },
    },
    async ({ city }) => {
      const { status, body } = await getJson(`/current?city=${encodeURIComponent(city)}`);
      if (status !== 200) {
        return { isError: true, content: [{ type: 'text', text: `No weather for ${city}` }] };
      }
      const { temperatureC, conditions } = body as { temperatureC: number; conditions: string };
      return {
        content: [{ type: 'text', text: `${city}: ${temperatureC}°C, ${conditions}` }],
      };
    },
  );

  server.registerTool(
    'get-forecast',
    {
      description: 'Daily forecast for a city',
      inputSchema: { city: z.string(), days: z.number().int().min(1).max(7).default(3) },
    },
    async ({ city, days }) => {
      const { status, body } = await getJson(
        `/forecast?city=${encodeURIComponent(city)}&days=${days}`,
      );
      if (status !== 200) {
        return { isError: true, content: [{ type: 'text', text: `No forecast for ${city}` }] };
      }
      const { forecast } = body as {
        forecast: { day: number; highC: number; conditions: string }[];
      };
      const lines = forecast.map((d) => `day ${d.day}: ${d.highC}°C, ${d.conditions}`);
      return { content: [{ type: 'text', text: `${city}\n${lines.join('\n')}` }] };
    },
  );

  server.registerTool(
    'fail-sometimes',
    {
      description: 'A flaky weather station: odd attempts fail with a tool error (isError: true)',
      inputSchema: { attempt: z.number().int().min(1) },
    },
    ({ attempt }) =>
      attempt % 2 === 1
        ? {
            isError: true,
            content: [{ type: 'text', text: `station offline (attempt ${attempt})` }],
          }
        : { content: [{ type: 'text', text: `station online (attempt ${attempt})` }] },
  );

  server.registerPrompt(
    'weather-report',
    { description: 'Ask for a short weather report', argsSchema: { city: z.string() } },
    ({ city }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'text',
            text: `Write a two-line weather report for ${city}. Use get-weather and get-forecast.`,
          },
        },
      ],
    }),
  );

  server.registerResource(
    'cities',
    'weather://cities',
    { description: 'Cities this server knows', mimeType: 'application/json' },
    (uri) => ({
      contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(CITIES) }],
    }),
  );

  return server;
}

export async function main(): Promise<void> {
  const fakeApi = process.env.WEATHER_API_URL ? undefined : await startFakeWeatherApi();
  const apiUrl = process.env.WEATHER_API_URL ?? fakeApi!.url;

  // The one line. With no sinks given, it also starts the OpenTelemetry pipeline from the
  // OTEL_* variables and registers it globally...
  const server = instrument(createWeatherServer(apiUrl));
  // ...so an ordinary OTel instrumentation, registered after it, exports through it: every
  // fetch becomes an HTTP CLIENT span, child of whatever span is active (the tool's).
  registerInstrumentations({ instrumentations: [new UndiciInstrumentation()] });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await server.close().catch(() => undefined);
      await fakeApi?.close();
      await shutdown(); // flush the spans out before the process ends
      process.exit(0);
    })());
  // The client closes our stdin when it is done (StdioClientTransport.close()); SIGTERM follows
  // only if we are still running two seconds later.
  process.stdin.once('end', () => void stop());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());

  await server.connect(new StdioServerTransport());
  process.stderr.write(`weather: ready (weather API ${apiUrl})\n`);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

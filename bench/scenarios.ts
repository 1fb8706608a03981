/**
 * Scenarios: how a client reaches a server. Each builds a fresh real pair for one variant and
 * returns a function that performs one call.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { applyVariant, type Applied, type VariantName } from './variants.js';

export interface Pair {
  /** One call; resolves when answered. */
  call(): Promise<unknown>;
  close(): Promise<void>;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Calls in flight at once. */
  readonly concurrency: number;
  /** Variants this scenario compares (the first is the baseline). */
  readonly variants: readonly string[];
  open(variant: string, endpoint: string): Promise<Pair>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

/** The echo server every scenario uses; the variant may wrap the handler. */
function echoServer(applied: () => Applied | undefined): McpServer {
  const server = new McpServer({ name: 'bench-server', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, (args) => {
    const handler = ({ text }: { text: string }) =>
      Promise.resolve({ content: [{ type: 'text' as const, text }] });
    const wrapped = applied()?.wrapHandler(handler) ?? handler;
    return wrapped(args);
  });
  return server;
}

const ARGS = { name: 'echo', arguments: { text: 'hello from the benchmark' } };

const STANDARD: readonly VariantName[] = [
  'baseline',
  'span-floor',
  'mcp-otel server',
  'mcp-otel client+server',
  'mcp-otel content',
  'mcp-otel events-only',
];

async function inMemoryPair(variant: VariantName, endpoint: string): Promise<Pair> {
  const server = echoServer(() => applied);
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const applied = applyVariant(variant, server, client, endpoint);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  return {
    call: () => client.callTool(ARGS),
    close: async () => {
      await client.close();
      await applied.close();
    },
  };
}

/** 200 tools answered 50 per page: one "call" lists them all (4 requests). */
async function toolsListPair(variant: string, endpoint: string): Promise<Pair> {
  const server = new McpServer({ name: 'bench-list', version: '1.0.0' });
  const tools = Array.from({ length: 200 }, (_, i) => ({
    name: `tool_${i}`,
    description: `Tool number ${i}, which does something moderately useful with its inputs.`,
    inputSchema: {
      type: 'object' as const,
      properties: {
        query: { type: 'string', description: 'what to look for' },
        limit: { type: 'number' },
      },
      required: ['query'],
    },
  }));
  server.server.registerCapabilities({ tools: {} });
  server.server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const start = request.params?.cursor ? Number(request.params.cursor) : 0;
    const end = start + 50;
    return {
      tools: tools.slice(start, end),
      ...(end < tools.length && { nextCursor: String(end) }),
    };
  });
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const base = variant === 'mcp-otel no-schema' ? 'mcp-otel server' : (variant as VariantName);
  let applied: Applied;
  if (variant === 'mcp-otel no-schema') {
    const { EventBus, createOtelSink, instrument } = await import('../src/index.js');
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    const bus = new EventBus({
      sinks: [
        createOtelSink({ spanExporter: new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }) }),
      ],
    });
    instrument(server, { bus, schemaTracking: false });
    applied = {
      wrapHandler:
        (fn) =>
        async (...a) =>
          fn(...a),
      close: () => bus.shutdown(),
    };
  } else {
    applied = applyVariant(base, server, client, endpoint);
  }
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  return {
    call: async () => {
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor });
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    },
    close: async () => {
      await client.close();
      await applied.close();
    },
  };
}

async function httpPair(variant: VariantName, endpoint: string): Promise<Pair> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const applieds: Applied[] = [];
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  let clientApplied = false;
  const http: HttpServer = createServer((req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (existing) {
      void existing.handleRequest(req, res);
      return;
    }
    const server = echoServer(() => applied);
    // The client is instrumented once (client+server variant), by the first session's setup.
    const applied = applyVariant(
      variant,
      server,
      clientApplied ? new Client({ name: 'x', version: '0' }) : client,
      endpoint,
    );
    clientApplied = true;
    applieds.push(applied);
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id: string): void => {
        transports.set(id, transport);
      },
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  await client.connect(new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${port}/mcp`)));
  return {
    call: () => client.callTool(ARGS),
    close: async () => {
      await client.close();
      for (const t of transports.values()) await t.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      for (const a of applieds) await a.close();
    },
  };
}

/** The server runs in a child process (bench/stdio-server.ts) with the variant applied there. */
async function stdioPair(variant: VariantName, endpoint: string): Promise<Pair> {
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const clientSide =
    variant === 'mcp-otel client+server'
      ? applyVariant(variant, new McpServer({ name: 'unused', version: '0' }), client, endpoint)
      : undefined;
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', `${here}stdio-server.ts`],
    env: { ...process.env, BENCH_VARIANT: variant, BENCH_ENDPOINT: endpoint },
    stderr: 'inherit',
    cwd: root,
  });
  await client.connect(transport);
  return {
    call: () => client.callTool(ARGS),
    close: async () => {
      await client.close();
      await clientSide?.close();
    },
  };
}

/** Direct stdio connection to a plain server vs the same server behind `mcp-otel wrap`. */
async function wrapPair(variant: string, endpoint: string): Promise<Pair> {
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const server = [process.execPath, `${root}test/fixtures/plain-stdio-server.mjs`];
  const args =
    variant === 'direct'
      ? server.slice(1)
      : ['--import', 'tsx', `${root}src/cli/main.ts`, 'wrap', '--', ...server];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
    },
    stderr: 'inherit',
    cwd: root,
  });
  await client.connect(transport);
  return { call: () => client.callTool(ARGS), close: () => client.close() };
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'in-memory sequential',
    description: 'tools/call echo, one at a time, InMemoryTransport',
    concurrency: 1,
    variants: STANDARD,
    open: (variant, endpoint) => inMemoryPair(variant as VariantName, endpoint),
  },
  {
    name: 'in-memory 32 in flight',
    description: 'tools/call echo, 32 concurrent, InMemoryTransport',
    concurrency: 32,
    variants: STANDARD,
    open: (variant, endpoint) => inMemoryPair(variant as VariantName, endpoint),
  },
  {
    name: 'tools/list 200 tools',
    description: 'tools/list of 200 tools in 4 pages (schema tracking cost)',
    concurrency: 1,
    variants: ['baseline', 'mcp-otel no-schema', 'mcp-otel server'],
    open: toolsListPair,
  },
  {
    name: 'streamable-http sequential',
    description: 'tools/call echo over Streamable HTTP on 127.0.0.1',
    concurrency: 1,
    variants: ['baseline', 'span-floor', 'mcp-otel server', 'mcp-otel client+server'],
    open: (variant, endpoint) => httpPair(variant as VariantName, endpoint),
  },
  {
    name: 'streamable-http 8 in flight',
    description: 'tools/call echo over Streamable HTTP on 127.0.0.1, 8 concurrent',
    concurrency: 8,
    variants: ['baseline', 'mcp-otel server'],
    open: (variant, endpoint) => httpPair(variant as VariantName, endpoint),
  },
  {
    name: 'stdio child process',
    description: 'tools/call echo to a child process over stdio',
    concurrency: 1,
    variants: ['baseline', 'span-floor', 'mcp-otel server', 'mcp-otel client+server'],
    open: (variant, endpoint) => stdioPair(variant as VariantName, endpoint),
  },
  {
    name: 'mcp-otel wrap',
    description: 'a plain stdio server, directly vs behind `mcp-otel wrap` (OTLP export on)',
    concurrency: 1,
    variants: ['direct', 'wrap'],
    open: wrapPair,
  },
];

/** Starts the loopback OTLP receiver (bench/receiver.mjs) and returns its URL. */
export async function startReceiver(): Promise<{ url: string; stop(): void }> {
  const child = spawn(process.execPath, [`${here}receiver.mjs`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
    child.once('error', reject);
  });
  return { url, stop: () => child.kill('SIGTERM') };
}

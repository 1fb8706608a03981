/**
 * Scenarios: how a client reaches a server. Each builds a fresh real pair for one variant and
 * returns a function that performs one call.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
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
import { EventBus, createOtelSink, instrument } from '../src/index.js';
import {
  BATCH,
  exporter,
  applyVariant,
  type Applied,
  type CallParams,
  type VariantId,
  type VariantName,
} from './variants.js';

export interface Pair {
  /** One call; resolves when answered. */
  call(): Promise<unknown>;
  /** Exports what the variant buffered (part of the measured cost). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /**
   * CPU µs used so far by the other processes the pair runs (a stdio server, the wrap proxy),
   * from /proc (Linux); undefined where not readable. Added to this process's CPU per call.
   */
  remoteCpuUs?(): number | undefined;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Calls in flight at once. */
  readonly concurrency: number;
  /** Slow calls (processes, TCP, big listings): fewer per slice. */
  readonly slow: boolean;
  /** Client and server in this process (`--compare` runs its mcp-otel variants on both copies). */
  readonly inProcess: boolean;
  /** Variants this scenario compares (the first is the baseline). */
  readonly variants: readonly string[];
  open(variant: string, endpoint: string): Promise<Pair>;
}

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('..', import.meta.url));

/** The echo server every scenario uses; the variant may wrap the handler. */
export function echoServer(applied: () => Applied | undefined): McpServer {
  const server = new McpServer({ name: 'bench-server', version: '1.0.0' });
  const handler = ({ text }: { text: string }) =>
    Promise.resolve({ content: [{ type: 'text' as const, text }] });
  let wrapped: typeof handler | undefined;
  server.registerTool('echo', { inputSchema: { text: z.string() } }, (args, extra) => {
    wrapped ??= applied()?.wrapHandler(handler) ?? handler;
    return (wrapped as (a: typeof args, e: typeof extra) => ReturnType<typeof handler>)(
      args,
      extra,
    );
  });
  return server;
}

const ARGS: CallParams = { name: 'echo', arguments: { text: 'hello from the benchmark' } };

const STANDARD: readonly VariantName[] = [
  'baseline',
  'span-floor',
  'span-floor + attributes',
  'span-floor client+server',
  'span-floor client+server + attributes',
  'mcp-otel server',
  'mcp-otel client+server',
  'mcp-otel content',
  'mcp-otel events-only',
];

async function inMemoryPair(variant: VariantId, endpoint: string): Promise<Pair> {
  const server = echoServer(() => applied);
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const applied = applyVariant(variant, server, client, endpoint);
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  const call = applied.wrapCall((params) => client.callTool(params));
  return {
    call: () => call(ARGS),
    flush: () => applied.flush(),
    close: async () => {
      await client.close();
      await applied.close();
    },
  };
}

/** 200 tools answered 50 per page: one "call" lists them all (4 requests). */
async function toolsListPair(variant: string, endpoint: string): Promise<Pair> {
  const server = new McpServer({ name: 'bench-list', version: '1.0.0' });
  // Fresh objects per page, as a real server builds them (McpServer converts every schema
  // on every tools/list): the tracker cannot short-cut on object identity.
  const tool = (i: number) => ({
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
  });
  server.server.registerCapabilities({ tools: {} });
  server.server.setRequestHandler(ListToolsRequestSchema, (request) => {
    const start = request.params?.cursor ? Number(request.params.cursor) : 0;
    const end = Math.min(start + 50, 200);
    const tools = [];
    for (let i = start; i < end; i++) tools.push(tool(i));
    return { tools, ...(end < 200 && { nextCursor: String(end) }) };
  });
  return listingPair(server, variant, endpoint, async (client) => {
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor === undefined ? {} : { cursor });
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  });
}

/**
 * A tools/list pair in memory: `variant` applied (`mcp-otel no-schema`: the server variant with
 * schema tracking off), one call is `list` on the client.
 */
async function listingPair(
  server: McpServer,
  variant: string,
  endpoint: string,
  list: (client: Client) => Promise<unknown>,
): Promise<Pair> {
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const noSchema = variant.startsWith('mcp-otel no-schema');
  const applied = applyVariant(
    variant.replace('no-schema', 'server') as VariantId,
    server,
    client,
    endpoint,
    { schemaTracking: !noSchema },
  );
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await server.connect(serverTransport);
  await client.connect(clientTransport);
  return {
    call: () => list(client),
    flush: () => applied.flush(),
    close: async () => {
      await client.close();
      await applied.close();
    },
  };
}

/** 200 tools registered on McpServer with zod input schemas, which it converts per listing. */
async function mcpServerListPair(variant: string, endpoint: string): Promise<Pair> {
  const server = new McpServer({ name: 'bench-list', version: '1.0.0' });
  for (let i = 0; i < 200; i++) {
    server.registerTool(
      `tool_${i}`,
      {
        description: `Tool number ${i}, which does something moderately useful with its inputs.`,
        inputSchema: {
          query: z.string().describe('what to look for'),
          limit: z.number().optional(),
        },
      },
      () => ({ content: [] }),
    );
  }
  return listingPair(server, variant, endpoint, (client) => client.listTools());
}

async function httpPair(variant: VariantName, endpoint: string): Promise<Pair> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const applieds: Applied[] = [];
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  let clientApplied: Applied | undefined;
  const http: HttpServer = createServer((req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
    if (existing) {
      void existing.handleRequest(req, res);
      return;
    }
    const server = echoServer(() => applied);
    // The client is instrumented once (client+server variants), by the first session's setup.
    const applied = applyVariant(
      variant,
      server,
      clientApplied ? new Client({ name: 'x', version: '0' }) : client,
      endpoint,
    );
    clientApplied ??= applied;
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
  // The first session's variant also wraps the client's calls (span-floor client+server).
  const call = clientApplied
    ? clientApplied.wrapCall((params) => client.callTool(params))
    : (params: CallParams) => client.callTool(params);
  return {
    call: () => call(ARGS),
    flush: async () => {
      for (const a of applieds) await a.flush();
    },
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
  // The client side of the client+server variants is applied here; the server side there.
  const clientSide = variant.endsWith('client+server')
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
  const pid = transport.pid;
  const call = clientSide?.wrapCall((p) => client.callTool(p)) ?? ((p) => client.callTool(p));
  return {
    call: () => call(ARGS),
    flush: async () => {
      // The child flushes its own variant when asked (a tool of bench/stdio-server.ts).
      await client.callTool({ name: 'bench_flush', arguments: {} });
      await clientSide?.flush();
    },
    remoteCpuUs: () => (pid === null ? undefined : processCpuUs(pid)),
    close: async () => {
      await client.close();
      await clientSide?.close();
    },
  };
}

/** A proxy process's environment: spans to the loopback receiver over OTLP/HTTP JSON, nothing else. */
export function proxyEnv(endpoint: string): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
}

/** Direct stdio connection to a plain server vs the same server behind a proxy process. */
async function wrapPair(variant: string, endpoint: string): Promise<Pair> {
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const server = [process.execPath, `${root}test/fixtures/plain-stdio-server.mjs`];
  const args =
    variant === 'direct'
      ? server.slice(1)
      : variant === 'pipe proxy'
        ? [`${here}pipe-proxy.mjs`, ...server]
        : // The sources under tsx, not dist/esm/cli/main.js (what users run): profiled at steady
          // state (bench/wrap-profile.ts, `wrap-tsx` vs `wrap`), tsx costs nothing per message
          // (no loader hook, source-map or tsx frame after start-up; the same self time per
          // function), only start-up, which the warm-up leaves out. The sources cannot be stale.
          [
            '--import',
            'tsx',
            `${root}src/cli/main.ts`,
            'wrap',
            ...(variant === 'wrap --no-propagate' ? ['--no-propagate'] : []),
            '--',
            ...server,
          ];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: proxyEnv(endpoint),
    stderr: 'inherit',
    cwd: root,
  });
  await client.connect(transport);
  const pid = transport.pid;
  // The proxy and the server it runs: CPU of both (the server's is the same in every variant).
  const pids = pid === null ? [] : [pid, ...childrenOf(pid)];
  return {
    call: () => client.callTool(ARGS),
    flush: () => Promise.resolve(),
    remoteCpuUs: () => {
      let total = 0;
      for (const p of pids) {
        const us = processCpuUs(p);
        if (us === undefined) return undefined;
        total += us;
      }
      return pids.length === 0 ? undefined : total;
    },
    close: () => client.close(),
  };
}

/**
 * Many sessions on one instrumented server process, as the memory run needs: one bus and
 * OTel sink (exporting to `endpoint`), and a fresh in-memory client/server pair per session,
 * each instrumented onto that bus.
 */
export function sharedBusSessions(endpoint: string): {
  open(): Promise<Pair>;
  readonly sessionTracers: number;
  close(): Promise<void>;
} {
  const otel = createOtelSink({ spanExporter: exporter(endpoint), batch: BATCH });
  const bus = new EventBus({ sinks: [otel] });
  return {
    async open() {
      const server = echoServer(() => undefined);
      const client = new Client({ name: 'bench-client', version: '1.0.0' });
      instrument(server, { bus });
      const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
      await server.connect(serverTransport);
      await client.connect(clientTransport);
      return {
        call: () => client.callTool(ARGS),
        flush: () => bus.flush(),
        close: () => client.close(),
      };
    },
    get sessionTracers() {
      return otel.sessionTracers;
    },
    close: () => bus.shutdown(),
  };
}

/** On-CPU time of every thread of `pid`, µs (Linux /proc/<pid>/task/<tid>/schedstat, in ns). */
export function processCpuUs(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
      ns += Number(stat.slice(0, stat.indexOf(' ')));
    }
    return ns / 1000;
  } catch {
    return undefined;
  }
}

/** Direct children of `pid` (by scanning /proc; Linux only, [] elsewhere). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // pid (comm) state ppid ...: comm may hold spaces, so parse after the last ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) out.push(Number(entry));
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    return [];
  }
  return out;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'in-memory sequential',
    description: 'tools/call echo, one at a time, InMemoryTransport',
    inProcess: true,
    concurrency: 1,
    slow: false,
    variants: STANDARD,
    open: (variant, endpoint) => inMemoryPair(variant as VariantId, endpoint),
  },
  {
    name: 'in-memory 32 in flight',
    description: 'tools/call echo, 32 concurrent, InMemoryTransport',
    inProcess: true,
    concurrency: 32,
    slow: false,
    variants: STANDARD,
    open: (variant, endpoint) => inMemoryPair(variant as VariantId, endpoint),
  },
  {
    name: 'tools/list 200 tools',
    description: 'tools/list of 200 tools in 4 pages (schema tracking cost)',
    inProcess: true,
    concurrency: 1,
    slow: true,
    variants: ['baseline', 'mcp-otel no-schema', 'mcp-otel server'],
    open: toolsListPair,
  },
  {
    name: 'tools/list 200 McpServer tools',
    description:
      'tools/list of 200 zod-typed tools registered on McpServer (one page, as it answers)',
    inProcess: true,
    concurrency: 1,
    slow: true,
    variants: ['baseline', 'mcp-otel no-schema', 'mcp-otel server'],
    open: mcpServerListPair,
  },
  {
    name: 'streamable-http sequential',
    description: 'tools/call echo over Streamable HTTP on 127.0.0.1',
    inProcess: false,
    concurrency: 1,
    slow: true,
    variants: [
      'baseline',
      'span-floor',
      'span-floor client+server',
      'mcp-otel server',
      'mcp-otel client+server',
    ],
    open: (variant, endpoint) => httpPair(variant as VariantName, endpoint),
  },
  {
    name: 'streamable-http 8 in flight',
    description: 'tools/call echo over Streamable HTTP on 127.0.0.1, 8 concurrent',
    inProcess: false,
    concurrency: 8,
    slow: true,
    variants: ['baseline', 'mcp-otel server'],
    open: (variant, endpoint) => httpPair(variant as VariantName, endpoint),
  },
  {
    name: 'stdio child process',
    description: 'tools/call echo to a child process over stdio (CPU: both processes)',
    inProcess: false,
    concurrency: 1,
    slow: true,
    variants: [
      'baseline',
      'span-floor',
      'span-floor client+server',
      'mcp-otel server',
      'mcp-otel client+server',
    ],
    open: (variant, endpoint) => stdioPair(variant as VariantName, endpoint),
  },
  {
    name: 'mcp-otel wrap',
    description:
      'a plain stdio server directly, behind a bare pipe proxy, and behind `mcp-otel wrap` (OTLP export on)',
    inProcess: false,
    concurrency: 1,
    slow: true,
    variants: ['direct', 'pipe proxy', 'wrap', 'wrap --no-propagate'],
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

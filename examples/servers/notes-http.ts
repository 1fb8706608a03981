/**
 * A notes MCP server over Streamable HTTP (SDK 1.x `StreamableHTTPServerTransport` on plain
 * `node:http`, 127.0.0.1), with:
 *
 * - stateful sessions: one low-level `Server` and transport per `mcp-session-id`, each made
 *   observable with `instrument(server)`;
 * - a large tools list (52 tools) answered in pages of {@link PAGE_SIZE} with `nextCursor`;
 * - `add-note`, which adds a new tool (`read-note-<slug>`) to the session at run time and tells
 *   the client with `notifications/tools/list_changed`.
 *
 * Each session has its own notebook. Where spans go is up to the OTEL_* variables.
 *
 *   NOTES_PORT=3000 npx tsx examples/servers/notes-http.ts
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  ListToolsRequestSchema,
  McpError,
  isInitializeRequest,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { instrument, shutdown, type InstrumentOptions } from 'mcp-otel';

/** Tools per `tools/list` page. */
export const PAGE_SIZE = 20;
/** How many `template-NN` tools pad the list out to something worth paginating. */
export const TEMPLATE_COUNT = 50;
export const MCP_PATH = '/mcp';

interface NoteTool {
  readonly tool: Tool;
  readonly call: (
    args: Record<string, unknown>,
    notify: () => Promise<void>,
  ) => CallToolResult | Promise<CallToolResult>;
}

const str = (value: unknown, fallback: string): string =>
  typeof value === 'string' ? value : fallback;

const text = (value: string, isError = false): CallToolResult => ({
  content: [{ type: 'text', text: value }],
  ...(isError ? { isError: true } : {}),
});

/** One session's MCP server: its notebook, and a tools list that grows with it. */
export function createNotesServer(): Server {
  const server = new Server(
    { name: 'notes', version: '1.0.0' },
    { capabilities: { tools: { listChanged: true } } },
  );
  const notes = new Map<string, string>();
  const tools = new Map<string, NoteTool>();
  const add = (entry: NoteTool): void => void tools.set(entry.tool.name, entry);

  add({
    tool: {
      name: 'add-note',
      description: 'Saves a note and adds a read-note-<slug> tool for it',
      inputSchema: {
        type: 'object',
        properties: { title: { type: 'string' }, text: { type: 'string' } },
        required: ['title', 'text'],
      },
    },
    async call(args, notify) {
      const title = str(args.title, '');
      const slug = title
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
      if (slug === '') return text('a note needs a title', true);
      const isNew = !notes.has(slug);
      notes.set(slug, str(args.text, ''));
      if (isNew) {
        add({
          tool: {
            name: `read-note-${slug}`,
            description: `Reads the note "${title}"`,
            inputSchema: { type: 'object', properties: {} },
          },
          call: () => text(notes.get(slug) ?? ''),
        });
        // Sent on this request's response stream, so the client sees it before the result.
        await notify();
      }
      return text(isNew ? `saved; new tool read-note-${slug}` : `updated ${slug}`);
    },
  });
  add({
    tool: {
      name: 'list-notes',
      description: 'Lists the titles of saved notes',
      inputSchema: { type: 'object', properties: {} },
    },
    call: () => text([...notes.keys()].join('\n') || '(no notes)'),
  });
  for (let i = 1; i <= TEMPLATE_COUNT; i++) {
    const name = `template-${String(i).padStart(2, '0')}`;
    add({
      tool: {
        name,
        description: `Starts a note from template ${i}`,
        inputSchema: { type: 'object', properties: { title: { type: 'string' } } },
      },
      call: (args) => text(`# ${str(args.title, 'Untitled')}\n(template ${i})`),
    });
  }

  server.setRequestHandler(ListToolsRequestSchema, (request) => {
    // The cursor is just the offset; opaque to the client, validated here.
    const cursor = request.params?.cursor;
    const start = cursor === undefined ? 0 : Number(cursor);
    if (!Number.isInteger(start) || start < 0 || start > tools.size) {
      throw new McpError(ErrorCode.InvalidParams, `invalid cursor: ${cursor}`);
    }
    const page = [...tools.values()].slice(start, start + PAGE_SIZE).map((entry) => entry.tool);
    const next = start + PAGE_SIZE;
    return next < tools.size ? { tools: page, nextCursor: String(next) } : { tools: page };
  });

  server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
    const entry = tools.get(request.params.name);
    if (!entry) throw new McpError(ErrorCode.InvalidParams, `unknown tool: ${request.params.name}`);
    return entry.call(request.params.arguments ?? {}, () =>
      extra.sendNotification({ method: 'notifications/tools/list_changed' }),
    );
  });

  return server;
}

export interface NotesServerOptions {
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** Passed to every session's `instrument()` call (tests give their own bus). @default {} */
  instrumentOptions?: InstrumentOptions;
}

export interface NotesServer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** Closes every session, then the HTTP server. Idempotent. */
  close(): Promise<void>;
}

/** Starts the notes server on 127.0.0.1. */
export async function startNotesServer(options: NotesServerOptions = {}): Promise<NotesServer> {
  const sessions = new Map<string, { server: Server; transport: StreamableHTTPServerTransport }>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const session = sessions.get(sessionId);
      if (!session) return jsonRpcError(res, 404, 'Session not found');
      return session.transport.handleRequest(req, res);
    }
    if (req.method !== 'POST') return jsonRpcError(res, 400, 'No session id');
    const body = await readJson(req);
    if (!isInitializeRequest(body)) return jsonRpcError(res, 400, 'Expected initialize');

    // A new session: its own server and transport, kept until the client ends the session.
    const server = instrument(createNotesServer(), options.instrumentOptions);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: randomUUID,
      onsessioninitialized: (id) => void sessions.set(id, { server, transport }),
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const http = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://127.0.0.1').pathname !== MCP_PATH) {
      return jsonRpcError(res, 404, 'Not found');
    }
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) jsonRpcError(res, 500, String(error));
    });
  });
  http.listen(options.port ?? 0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;

  let closing: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}${MCP_PATH}`,
    close: () =>
      (closing ??= (async () => {
        for (const { server, transport } of [...sessions.values()]) {
          await transport.close().catch(() => undefined);
          await server.close().catch(() => undefined);
        }
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
      })()),
  };
}

function jsonRpcError(res: ServerResponse, status: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
}

export async function main(): Promise<void> {
  const port = Number(process.env.NOTES_PORT ?? '0');
  const notes = await startNotesServer({ port: Number.isInteger(port) ? port : 0 });
  // Read by examples/clients/agent.ts, which starts this file as a child process.
  process.stderr.write(`notes: listening on ${notes.url}\n`);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await notes.close();
      await shutdown(); // flush the spans out before the process ends
      process.exit(0);
    })());
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

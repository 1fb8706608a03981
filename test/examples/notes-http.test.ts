/**
 * examples/servers/notes-http.ts over real Streamable HTTP on 127.0.0.1, driven by real SDK
 * clients; every session's server is instrumented onto this test's own bus.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ErrorCode, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { EventBus, createMemorySink, type MemorySink } from 'mcp-otel';
import {
  PAGE_SIZE,
  TEMPLATE_COUNT,
  startNotesServer,
  type NotesServer,
} from '../../examples/servers/notes-http.js';

const REQUEST = { timeout: 10_000 };

let sink: MemorySink;
let bus: EventBus;
let notes: NotesServer;
const clients: Client[] = [];

beforeEach(async () => {
  sink = createMemorySink();
  bus = new EventBus({ sinks: [sink] });
  notes = await startNotesServer({
    port: 0,
    instrumentOptions: { bus, heartbeatIntervalMs: 0 },
  });
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  await notes.close();
  await bus.shutdown();
});

async function connect(): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'notes-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(notes.url));
  clients.push(client);
  await client.connect(transport, REQUEST);
  return { client, transport };
}

async function allTools(client: Client): Promise<{ names: string[]; cursors: string[] }> {
  const names: string[] = [];
  const cursors: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10; page++) {
    const result = await client.listTools(cursor === undefined ? {} : { cursor }, REQUEST);
    names.push(...result.tools.map((t) => t.name));
    cursor = result.nextCursor;
    if (cursor === undefined) break;
    cursors.push(cursor);
  }
  return { names, cursors };
}

const TOTAL = TEMPLATE_COUNT + 2;

describe('examples/servers/notes-http.ts', () => {
  it('listens on 127.0.0.1 and answers the large tools list in pages', async () => {
    expect(notes.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
    const { client } = await connect();
    const first = await client.listTools({}, REQUEST);
    expect(first.tools).toHaveLength(PAGE_SIZE);
    expect(first.nextCursor).toBeDefined();

    const { names, cursors } = await allTools(client);
    expect(cursors).toHaveLength(Math.ceil(TOTAL / PAGE_SIZE) - 1);
    expect(names).toHaveLength(TOTAL);
    expect(new Set(names).size).toBe(TOTAL);
    expect(names.slice(0, 3)).toEqual(['add-note', 'list-notes', 'template-01']);

    await expect(client.listTools({ cursor: 'bogus' }, REQUEST)).rejects.toMatchObject({
      code: ErrorCode.InvalidParams,
    });

    // The schema tracker merged the pages into one version of the tools list.
    await bus.flush();
    const versions = sink.ofType('schema_version_created');
    expect(versions.length).toBeGreaterThanOrEqual(1);
    expect((versions[0]?.payload.tools as unknown[]).length).toBe(TOTAL);
  });

  it('add-note adds a tool at run time and sends tools/list_changed before its result', async () => {
    const { client } = await connect();
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
      changes++;
    });
    await allTools(client);

    const added = await client.callTool(
      { name: 'add-note', arguments: { title: 'Packing list', text: 'umbrella' } },
      undefined,
      REQUEST,
    );
    expect(added.content).toEqual([
      { type: 'text', text: 'saved; new tool read-note-packing-list' },
    ]);
    // Same response stream, sent first: handled by the time the result is.
    expect(changes).toBe(1);

    const { names } = await allTools(client);
    expect(names).toHaveLength(TOTAL + 1);
    expect(names).toContain('read-note-packing-list');
    const read = await client.callTool(
      { name: 'read-note-packing-list', arguments: {} },
      undefined,
      REQUEST,
    );
    expect(read.content).toEqual([{ type: 'text', text: 'umbrella' }]);

    // Updating the note adds no tool, so no notification.
    await client.callTool(
      { name: 'add-note', arguments: { title: 'Packing list', text: 'umbrella, boots' } },
      undefined,
      REQUEST,
    );
    expect(changes).toBe(1);

    await bus.flush();
    const versions = sink
      .ofType('schema_version_created')
      .filter((v) => v.method === 'tools/list' && v.role === 'server');
    expect(versions.at(-1)?.changes.added).toEqual(['read-note-packing-list']);
    const calls = sink
      .ofType('request')
      .filter((e) => e.role === 'server' && e.mcpMethod === 'tools/call');
    expect(calls.map((e) => [e.tool, e.note])).toEqual([
      ['add-note', 'ok'],
      ['read-note-packing-list', 'ok'],
      ['add-note', 'ok'],
    ]);
  });

  it('keeps sessions apart: one server per session, each with its own notebook', async () => {
    const a = await connect();
    const b = await connect();
    expect(a.transport.sessionId).toBeDefined();
    expect(b.transport.sessionId).toBeDefined();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);

    await a.client.callTool(
      { name: 'add-note', arguments: { title: 'Only in A', text: 'a' } },
      undefined,
      REQUEST,
    );
    expect((await allTools(a.client)).names).toContain('read-note-only-in-a');
    expect((await allTools(b.client)).names).not.toContain('read-note-only-in-a');
    await expect(
      b.client.callTool({ name: 'read-note-only-in-a', arguments: {} }, undefined, REQUEST),
    ).rejects.toMatchObject({ code: ErrorCode.InvalidParams });

    await bus.flush();
    const serverSessions = new Set(
      sink
        .ofType('request')
        .filter((e) => e.role === 'server' && e.transport === 'streamable-http')
        .map((e) => e.sessionId),
    );
    expect(serverSessions).toEqual(new Set([a.transport.sessionId, b.transport.sessionId]));
  });
});

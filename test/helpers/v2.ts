/**
 * Real servers and clients of the v2 split packages (`@modelcontextprotocol/server` and
 * `@modelcontextprotocol/client` 2.x): the v2 counterparts of ./v1.ts.
 */
import { McpServer, InMemoryTransport } from '@modelcontextprotocol/server';
import { Client } from '@modelcontextprotocol/client';
import { z } from 'zod';

/** The first (and in SDK 2.4 only) revision of the per-request protocol era. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';

/** A small real v2 server: echo, a failing tool, a prompt, a resource. */
export function createTestServerV2(name = 'test-server-v2'): McpServer {
  const server = new McpServer({ name, version: '2.3.4' });
  server.registerTool(
    'echo',
    { description: 'Echoes its input', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('fail', { description: 'Always reports a tool error' }, () => ({
    isError: true,
    content: [{ type: 'text', text: 'the tool failed on purpose' }],
  }));
  server.registerPrompt(
    'greet',
    { description: 'Greets', argsSchema: { who: z.string() } },
    ({ who }) => ({
      messages: [{ role: 'user', content: { type: 'text', text: `Hello ${who}` } }],
    }),
  );
  server.registerResource('readme', 'file:///readme.md', { description: 'Readme' }, (uri) => ({
    contents: [{ uri: uri.href, text: '# readme' }],
  }));
  return server;
}

/** A v2 client; `era: 'modern'` pins it to the per-request era (no initialize). */
export function createTestClientV2(
  options: { name?: string; era?: 'initialize' | 'modern' } = {},
): Client {
  const info = { name: options.name ?? 'cursor-v2', version: '0.8.0' };
  return options.era === 'modern'
    ? new Client(info, { versionNegotiation: { mode: { pin: MODERN_PROTOCOL_VERSION } } })
    : new Client(info);
}

/** v2's own in-memory pair (the server package's copy of the class). */
export function linkedPairV2(): [InMemoryTransport, InMemoryTransport] {
  return InMemoryTransport.createLinkedPair();
}

import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { z } from 'zod';

/** A small real server: echo, a failing tool, a tool that throws, a prompt, a resource. */
export function createTestServer(name = 'test-server'): McpServer {
  const server = new McpServer({ name, version: '1.2.3' });
  server.registerTool(
    'echo',
    { description: 'Echoes its input', inputSchema: { text: z.string() } },
    ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('fail', { description: 'Always reports a tool error' }, () => ({
    isError: true,
    content: [{ type: 'text', text: 'the tool failed on purpose' }],
  }));
  server.registerTool(
    'slow',
    { description: 'Waits', inputSchema: { ms: z.number() } },
    async ({ ms }, extra) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, ms);
        extra.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      return { content: [{ type: 'text', text: 'done' }] };
    },
  );
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

export function createTestClient(name = 'claude-ai'): Client {
  return new Client({ name, version: '0.9.0' });
}

export function linkedPair(): [InMemoryTransport, InMemoryTransport] {
  return InMemoryTransport.createLinkedPair();
}

/** Waits for the bus's dispatch turn (setImmediate) so sinks have seen what was emitted. */
export function nextDispatch(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

import { it } from 'vitest';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { EventBus, createMemorySink, instrument } from '../../src/index.js';
import { createTestClientV2, createTestServerV2, linkedPairV2 } from '../helpers/v2.js';

it('scratch serveStdio', async () => {
  const sink = createMemorySink();
  const bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
  const csink = createMemorySink();
  const cbus = new EventBus({ sinks: [csink], flushIntervalMs: 0 });
  const [ct, st] = linkedPairV2();
  const handle = serveStdio(() => instrument(createTestServerV2(), { bus, heartbeatIntervalMs: 0 }), { transport: st });
  const client = instrument(createTestClientV2({ era: 'modern' }), { bus: cbus, heartbeatIntervalMs: 0 });
  await client.connect(ct);
  console.log('era', client.getProtocolEra());
  await client.callTool({ name: 'echo', arguments: { text: 'x' } });
  await client.callTool({ name: 'fail', arguments: {} });
  await client.close();
  await handle.close();
  await bus.flush(); await cbus.flush();
  console.log('SERVER', JSON.stringify(sink.events, null, 1));
  console.log('CLIENT', JSON.stringify(csink.events, null, 1));
});

it('scratch http', async () => {
  const sink = createMemorySink();
  const bus = new EventBus({ sinks: [sink], flushIntervalMs: 0 });
  const csink = createMemorySink();
  const cbus = new EventBus({ sinks: [csink], flushIntervalMs: 0 });
  const handler = createMcpHandler(() => instrument(createTestServerV2(), { bus, heartbeatIntervalMs: 0 }), { onerror: (e) => console.log('onerror', e) });
  const ct = new StreamableHTTPClientTransport(new URL('http://in-process.test/mcp'), { fetch: (url, init) => handler.fetch(new Request(url, init)) });
  const client = instrument(createTestClientV2({ era: 'modern' }), { bus: cbus, heartbeatIntervalMs: 0 });
  await client.connect(ct);
  console.log('era', client.getProtocolEra());
  await client.callTool({ name: 'echo', arguments: { text: 'x' } });
  await client.callTool({ name: 'fail', arguments: {} });
  await client.close();
  await handler.close();
  await bus.flush(); await cbus.flush();
  console.log('SERVER', JSON.stringify(sink.events, null, 1));
  console.log('CLIENT', JSON.stringify(csink.events, null, 1));
});

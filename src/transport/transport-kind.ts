import type { TransportKind } from '../events.js';

/**
 * Detects the transport kind from the class name, walking the prototype chain so subclasses
 * are recognised. Names are those of @modelcontextprotocol/sdk 1.x and the v2 split packages.
 */
export function detectTransportKind(transport: object): TransportKind {
  let proto: object | null = Object.getPrototypeOf(transport) as object | null;
  for (let depth = 0; proto && depth < 8; depth++) {
    const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string') {
      const kind = kindFromName(name);
      if (kind) return kind;
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return 'custom';
}

function kindFromName(name: string): TransportKind | undefined {
  if (name.startsWith('Stdio')) return 'stdio';
  if (name.includes('StreamableHTTP') || name === 'PerRequestHTTPServerTransport') {
    return 'streamable-http';
  }
  if (name.startsWith('SSE')) return 'sse';
  if (name === 'InMemoryTransport') return 'in-memory';
  if (name.startsWith('WebSocket')) return 'websocket';
  return undefined;
}

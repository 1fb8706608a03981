/**
 * Bug repro (for test/integration/): a stdio server instrumented with `instrument(server)` under
 * OTEL_METRICS_EXPORTER=console writes metrics to STDOUT (NodeSDK's ConsoleMetricExporter uses
 * console.dir), corrupting the JSON-RPC stream. Expected: stdout carries JSON-RPC only.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURE = fileURLToPath(new URL('../fixtures/otel-stdio-server.ts', import.meta.url));

describe('stdio server with OTEL_METRICS_EXPORTER=console', () => {
  it('keeps stdout for JSON-RPC only', async () => {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env))
      if (v !== undefined && !k.startsWith('OTEL_')) env[k] = v;
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      cwd: ROOT,
      env: {
        ...env,
        OTEL_TRACES_EXPORTER: 'console',
        OTEL_METRICS_EXPORTER: 'console',
        OTEL_LOGS_EXPORTER: 'none',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    const send = (m: object) => child.stdin.write(JSON.stringify(m) + '\n');
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'hi' } },
    });
    const deadline = Date.now() + 20_000;
    while (!stdout.includes('"id":2') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGTERM'); // the bus drains: NodeSDK shutdown exports metrics one last time
    await once(child, 'close');
    const lines = stdout.split('\n').filter((l) => l !== '');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines)
      expect((JSON.parse(line) as { jsonrpc?: unknown }).jsonrpc, line).toBe('2.0');
  }, 30_000);
});

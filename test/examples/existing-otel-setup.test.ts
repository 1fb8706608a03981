/**
 * examples/existing-otel-setup.ts: the app's NodeSDK is already running, and instrument() with
 * no options must use it rather than build a pipeline of its own. This file is the only one in
 * its (forked, isolated) worker, so the SDK the example registers leaks nowhere.
 */
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../examples/existing-otel-setup.js';

describe('examples/existing-otel-setup.ts', () => {
  it("sends MCP spans and metrics through the app's own SDK, nested under the app's span", async () => {
    // Were instrument() to build its own pipeline, this would print every span to stderr as JSON.
    vi.stubEnv('OTEL_TRACES_EXPORTER', 'console');
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const { spans, metrics } = await main();
      expect(stdout).not.toHaveBeenCalled();
      const printed = stderr.mock.calls.map((call) => String(call[0])).join('');
      expect(printed).not.toContain('"traceId"');
      expect(printed).toContain("the app's span exporter received 9 spans:");
      expect(printed).toMatch(
        /\n {2}plan trip \(INTERNAL, service\.name=my-app\)\n {4}tools\/call get-forecast \(CLIENT/,
      );

      // Every span went through the app's processor, with the app's resource.
      expect(new Set(spans.map((s) => s.service))).toEqual(new Set(['my-app']));
      const find = (name: string, kind: string) =>
        spans.find((s) => s.name === name && s.kind === kind);
      const plan = find('plan trip', 'INTERNAL');
      const client = find('tools/call get-forecast', 'CLIENT');
      const server = find('tools/call get-forecast', 'SERVER');
      expect(client?.parentSpanId).toBe(plan?.spanId);
      expect(server?.parentSpanId).toBe(client?.spanId);
      expect(server?.traceId).toBe(plan?.traceId);
      // A shared pipeline has no per-session Resource: the session goes on the span.
      expect(server?.attributes['mcp.session.id']).toEqual(expect.any(String));
      expect(find('tools/call get-alerts', 'SERVER')?.attributes['error.type']).toBe('tool_error');

      expect(metrics).toEqual(
        expect.arrayContaining(['mcp.client.operation.duration', 'mcp.server.operation.duration']),
      );
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
      vi.unstubAllEnvs();
    }
  });
});

/**
 * Content capture and privacy: tool arguments and results are never recorded unless the user
 * opts in; then they are JSON strings, with denylisted keys redacted at any depth, capped in
 * size, and passed through the user's `redact` hook last (a hook that throws records nothing
 * and leaves the host alone).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { z } from 'zod';
import { setDiagnosticLogger, type OtelSinkOptions, type RedactContext } from '../../src/index.js';
import {
  connectOtelPair,
  createTestServer,
  everyStringOf,
  runCleanups,
  spansNamed,
  theSpan,
} from '../fixtures/otel-harness.js';

const { CLIENT, SERVER } = SpanKind;
const ARGUMENTS = 'gen_ai.tool.call.arguments';
const RESULT = 'gen_ai.tool.call.result';

afterEach(async () => {
  setDiagnosticLogger(undefined);
  await runCleanups();
});

/** A unique string to look for in everything exported. */
function canary(): string {
  return `canary-${Math.random().toString(36).slice(2)}`;
}

const SECRETS = {
  password: 'hunter2-pw',
  apiKey: 'k-apikey-123',
  authorization: 'Bearer bearer-abc',
  accessToken: 'at-token-456',
  clientSecret: 'cs-secret-789',
  ssn: '078-05-1120',
};

/** The test server plus `login`, which takes secrets and answers with one. */
function contentServer() {
  const server = createTestServer();
  server.registerTool(
    'login',
    {
      description: 'Takes credentials',
      inputSchema: {
        user: z.string(),
        password: z.string(),
        apiKey: z.string(),
        options: z.unknown(),
      },
    },
    ({ user }) => ({
      content: [{ type: 'text', text: `welcome ${user}` }],
      structuredContent: { user, session: { accessToken: SECRETS.accessToken, expires: 60 } },
    }),
  );
  return server;
}

function loginArguments() {
  return {
    user: 'ada',
    password: SECRETS.password,
    apiKey: SECRETS.apiKey,
    options: {
      retries: 3,
      tokenCount: 7,
      nested: {
        deeper: [
          { Authorization: SECRETS.authorization, client_secret: SECRETS.clientSecret },
          { ssn: SECRETS.ssn, note: 'kept' },
        ],
      },
    },
  };
}

async function pair(sink: OtelSinkOptions = {}) {
  return connectOtelPair({ sink, server: contentServer() });
}

function both(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return [theSpan(spans, name, CLIENT), theSpan(spans, name, SERVER)];
}

describe('content capture', () => {
  it('is off by default: arguments and results appear nowhere', async () => {
    const secret = canary();
    const { client, setup } = await pair();
    const result = await client.callTool({ name: 'echo', arguments: { text: secret } });
    expect(result.content).toEqual([{ type: 'text', text: secret }]);
    await client.listTools();
    const spans = await setup.spans();
    expect(both(spans, 'tools/call echo')).toHaveLength(2);
    for (const span of spans) {
      const strings = everyStringOf(span);
      expect(
        strings.filter((s) => s.includes(secret)),
        span.name,
      ).toEqual([]);
      expect(span.attributes).not.toHaveProperty(ARGUMENTS);
      expect(span.attributes).not.toHaveProperty(RESULT);
      for (const event of span.events) {
        expect(event.attributes ?? {}).not.toHaveProperty('mcp.schema.payload');
      }
    }
  });

  it('captureContent: arguments and result as JSON strings, on both sides, only on tools/call', async () => {
    const secret = canary();
    const { client, setup } = await pair({ captureContent: true });
    const result = await client.callTool({ name: 'echo', arguments: { text: secret } });
    await client.getPrompt({ name: 'greet', arguments: { who: 'Ada' } });
    const spans = await setup.spans();
    for (const span of both(spans, 'tools/call echo')) {
      expect(span.attributes[ARGUMENTS]).toBe(JSON.stringify({ text: secret }));
      expect(JSON.parse(String(span.attributes[RESULT]))).toEqual(result);
    }
    for (const span of spans.filter((s) => !s.name.startsWith('tools/call'))) {
      expect(span.attributes).not.toHaveProperty(ARGUMENTS);
      expect(span.attributes).not.toHaveProperty(RESULT);
    }
  });

  it('captureArguments and captureResults switch each direction on its own', async () => {
    const onlyArgs = await pair({ captureArguments: true });
    await onlyArgs.client.callTool({ name: 'echo', arguments: { text: 'a' } });
    for (const span of both(await onlyArgs.setup.spans(), 'tools/call echo')) {
      expect(span.attributes[ARGUMENTS]).toBe('{"text":"a"}');
      expect(span.attributes).not.toHaveProperty(RESULT);
    }
    const onlyResults = await pair({ captureResults: true });
    await onlyResults.client.callTool({ name: 'echo', arguments: { text: 'b' } });
    for (const span of both(await onlyResults.setup.spans(), 'tools/call echo')) {
      expect(span.attributes).not.toHaveProperty(ARGUMENTS);
      expect(span.attributes[RESULT]).toBe('{"content":[{"type":"text","text":"b"}]}');
    }
  });

  it('records no result for a failed tool call (the spec: only if execution was successful)', async () => {
    const { client, setup } = await pair({ captureContent: true });
    await client.callTool({ name: 'fail' });
    for (const span of both(await setup.spans(), 'tools/call fail')) {
      expect(span.attributes['error.type']).toBe('tool_error');
      expect(span.attributes).not.toHaveProperty(RESULT);
    }
  });

  it('redacts denylisted keys at any depth, in arguments and results, and the user’s redactKeys', async () => {
    const { client, setup } = await pair({ captureContent: true, redactKeys: ['ssn'] });
    const result = await client.callTool({ name: 'login', arguments: loginArguments() });
    expect(result.content).toEqual([{ type: 'text', text: 'welcome ada' }]);
    const spans = await setup.spans();
    for (const span of both(spans, 'tools/call login')) {
      expect(JSON.parse(String(span.attributes[ARGUMENTS]))).toEqual({
        user: 'ada',
        password: '[REDACTED]',
        apiKey: '[REDACTED]',
        options: {
          retries: 3,
          tokenCount: 7,
          nested: {
            deeper: [
              { Authorization: '[REDACTED]', client_secret: '[REDACTED]' },
              { ssn: '[REDACTED]', note: 'kept' },
            ],
          },
        },
      });
      expect(JSON.parse(String(span.attributes[RESULT]))).toMatchObject({
        structuredContent: { user: 'ada', session: { accessToken: '[REDACTED]', expires: 60 } },
      });
    }
    for (const span of spans) {
      for (const secret of Object.values(SECRETS)) {
        expect(
          everyStringOf(span).filter((s) => s.includes(secret)),
          span.name,
        ).toEqual([]);
      }
    }
  });

  it('caps content at maxContentBytes (UTF-8) and marks the cut', async () => {
    const { client, setup } = await pair({ captureContent: true, maxContentBytes: 200 });
    const long = 'é'.repeat(5_000) + '✓';
    await client.callTool({ name: 'echo', arguments: { text: long } });
    for (const span of both(await setup.spans(), 'tools/call echo')) {
      for (const key of [ARGUMENTS, RESULT]) {
        const value = String(span.attributes[key]);
        expect(Buffer.byteLength(value)).toBeLessThanOrEqual(200);
        expect(Buffer.byteLength(value)).toBeGreaterThan(150);
        expect(value.endsWith('…[truncated]')).toBe(true);
        expect(value).not.toContain('\uFFFD');
        expect(value.startsWith(key === ARGUMENTS ? '{"text":"éé' : '{"content":[')).toBe(true);
      }
    }
  });

  it('a small value is not marked', async () => {
    const { client, setup } = await pair({ captureContent: true, maxContentBytes: 200 });
    await client.callTool({ name: 'echo', arguments: { text: 'short' } });
    const [sent] = both(await setup.spans(), 'tools/call echo');
    expect(sent!.attributes[ARGUMENTS]).toBe('{"text":"short"}');
  });
});

describe('the redact hook', () => {
  it('runs last, on already-redacted content, and what it returns is recorded', async () => {
    const secret = canary();
    const seen: Array<{ attributes: Record<string, string>; context: RedactContext }> = [];
    const { client, setup } = await pair({
      captureContent: true,
      redact: (attributes, context) => {
        seen.push({ attributes: { ...attributes }, context });
        const out: Record<string, string> = {};
        for (const [key, value] of Object.entries(attributes))
          out[key] = value.replaceAll(secret, '<user-redacted>');
        return out;
      },
    });
    const args = { ...loginArguments(), user: secret };
    await client.callTool({ name: 'login', arguments: args });
    const spans = await setup.spans();

    // It saw the built-in redaction already applied.
    const argumentCalls = seen.filter((s) => s.context.kind === 'arguments');
    expect(argumentCalls).toHaveLength(2);
    for (const call of argumentCalls) {
      expect(call.attributes[ARGUMENTS]).toContain('"password":"[REDACTED]"');
      expect(call.attributes[ARGUMENTS]).not.toContain(SECRETS.password);
      expect(call.attributes[ARGUMENTS]).toContain(secret);
    }
    expect(
      seen
        .map((s) => s.context)
        .sort((a, b) => a.kind.localeCompare(b.kind) || a.role.localeCompare(b.role)),
    ).toEqual([
      { kind: 'arguments', mcpMethod: 'tools/call', tool: 'login', role: 'client' },
      { kind: 'arguments', mcpMethod: 'tools/call', tool: 'login', role: 'server' },
      { kind: 'result', mcpMethod: 'tools/call', tool: 'login', role: 'client' },
      { kind: 'result', mcpMethod: 'tools/call', tool: 'login', role: 'server' },
    ]);
    for (const span of both(spans, 'tools/call login')) {
      expect(JSON.parse(String(span.attributes[ARGUMENTS]))).toMatchObject({
        user: '<user-redacted>',
        password: '[REDACTED]',
      });
      expect(String(span.attributes[RESULT])).toContain('welcome <user-redacted>');
    }
    for (const span of spans) {
      expect(
        everyStringOf(span).filter((s) => s.includes(secret)),
        span.name,
      ).toEqual([]);
    }
  });

  it('returning {} records no content, and mutating in place works', async () => {
    const none = await pair({ captureContent: true, redact: () => ({}) });
    await none.client.callTool({ name: 'echo', arguments: { text: 'x' } });
    for (const span of both(await none.setup.spans(), 'tools/call echo')) {
      expect(span.attributes).not.toHaveProperty(ARGUMENTS);
      expect(span.attributes).not.toHaveProperty(RESULT);
      expect(span.attributes['gen_ai.tool.name']).toBe('echo');
    }
    const inPlace = await pair({
      captureContent: true,
      redact: (attributes) => {
        delete attributes[RESULT];
      },
    });
    await inPlace.client.callTool({ name: 'echo', arguments: { text: 'y' } });
    for (const span of both(await inPlace.setup.spans(), 'tools/call echo')) {
      expect(span.attributes[ARGUMENTS]).toBe('{"text":"y"}');
      expect(span.attributes).not.toHaveProperty(RESULT);
    }
  });

  it('a hook that throws records no content; the host and the spans are unaffected', async () => {
    const reported: string[] = [];
    setDiagnosticLogger({ warn: () => undefined, error: (m) => reported.push(m) });
    const secret = canary();
    let calls = 0;
    const { client, setup } = await pair({
      captureContent: true,
      redact: () => {
        calls++;
        throw new Error('redact hook broke');
      },
    });
    const result = await client.callTool({ name: 'echo', arguments: { text: secret } });
    expect(result.content).toEqual([{ type: 'text', text: secret }]);
    const listed = await client.listTools();
    expect(listed.tools.map((t) => t.name)).toContain('login');
    const spans = await setup.spans();
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(reported.some((m) => m.includes('redact hook broke'))).toBe(true);
    for (const span of both(spans, 'tools/call echo')) {
      expect(span.attributes).toMatchObject({
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'echo',
      });
      expect(span.attributes).not.toHaveProperty(ARGUMENTS);
      expect(span.attributes).not.toHaveProperty(RESULT);
    }
    for (const span of spans) {
      expect(
        everyStringOf(span).filter((s) => s.includes(secret)),
        span.name,
      ).toEqual([]);
    }
  });
});

describe('schema payload', () => {
  it('is recorded on mcp.schema.version_created only with captureContent, capped and redacted', async () => {
    const kinds: string[] = [];
    const { client, setup } = await pair({
      captureContent: true,
      maxSchemaPayloadBytes: 100_000,
      redact: (attributes, context) => {
        kinds.push(context.kind);
        return attributes;
      },
    });
    await client.listTools();
    const [list] = spansNamed(await setup.spans(), 'tools/list', SERVER);
    const event = list!.events.find((e) => e.name === 'mcp.schema.version_created');
    const payload = JSON.parse(String(event!.attributes!['mcp.schema.payload'])) as {
      tools: Array<{ name: string }>;
    };
    expect(payload.tools.map((t) => t.name).sort()).toEqual(['echo', 'fail', 'login', 'slow']);
    expect(kinds).toContain('payload');

    const capped = await pair({ captureContent: true, maxSchemaPayloadBytes: 120 });
    await capped.client.listTools();
    const [small] = spansNamed(await capped.setup.spans(), 'tools/list', SERVER);
    const text = String(
      small!.events.find((e) => e.name === 'mcp.schema.version_created')!.attributes![
        'mcp.schema.payload'
      ],
    );
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(120);
    expect(text.endsWith('…[truncated]')).toBe(true);
  });
});

/**
 * `node --import mcp-otel/register app.js` and `node --require mcp-otel/register app.cjs`, on
 * real child processes running apps that never import mcp-otel: ES module and CommonJS apps,
 * both SDK generations, the dual-package case (an ESM app whose CommonJS dependency requires the
 * SDK's CJS entry), a stdio server, an app outside the repo with its own SDK copy, and a
 * directory where no SDK can be resolved.
 *
 * The entries run from source, so tsx is loaded first (`--import tsx` / `--require tsx/cjs`).
 * Spans come back as JSON lines on the child's stderr (OTEL_TRACES_EXPORTER=console, through
 * the pipeline register starts from the environment, see src/sinks/otel/stderr-exporter.ts).
 */
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'fixtures');
const REGISTER_ESM = pathToFileURL(join(ROOT, 'src', 'register.ts')).href;
const REGISTER_CJS = join(ROOT, 'src', 'register-cjs.ts');
const requireHere = createRequire(import.meta.url);
/** Absolute, so the "no SDK" runs from a directory outside the repo still find tsx. */
const TSX_ESM = pathToFileURL(requireHere.resolve('tsx')).href;
const TSX_CJS = requireHere.resolve('tsx/cjs');
const IMPORT = ['--import', TSX_ESM, '--import', REGISTER_ESM];
const REQUIRE = ['--require', TSX_CJS, '--require', REGISTER_CJS];

/** A child that is not done by then is killed and the test fails (tsx compiles on the fly). */
const RUN_DEADLINE_MS = 45_000;
const TEST_TIMEOUT_MS = 60_000;
const SERVER = 1;
const CLIENT = 2;

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, unknown>;
  readonly status: { readonly code: number };
  readonly resource: Record<string, unknown>;
}

const temporary: string[] = [];

afterEach(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/**
 * The child's environment: ours without any OTEL_* or mcp-otel settings, plus spans on stderr.
 * Metrics and logs are off: their default OTLP exporters, with no collector listening, hold the
 * process at exit (reported separately); these tests are about spans.
 */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('OTEL_') || key.startsWith('MCP_OTEL_') || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return {
    ...env,
    OTEL_TRACES_EXPORTER: 'console',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_LOGS_EXPORTER: 'none',
  };
}

/** Runs node with `args` to completion (bounded), feeding `input` lines to stdin one by one. */
function runNode(
  args: readonly string[],
  options: {
    cwd?: string;
    input?: (line: (text: string) => Promise<string>) => Promise<void>;
  } = {},
): Promise<Run> {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: childEnv(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  const waiting: Array<{ id: string; resolve: (line: string) => void }> = [];
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    for (const entry of [...waiting]) {
      const line = stdout.split('\n').find((l) => l.includes(`"id":${entry.id}`));
      if (line !== undefined) {
        waiting.splice(waiting.indexOf(entry), 1);
        entry.resolve(line);
      }
    }
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise<Run>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`node ${args.join(' ')} did not finish within ${RUN_DEADLINE_MS} ms:\n${stderr}`),
      );
    }, RUN_DEADLINE_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (options.input) {
      // Sends a JSON-RPC line; resolves with the stdout line answering its id.
      const send = (text: string): Promise<string> => {
        const id = /"id":(\d+)/.exec(text)?.[1];
        child.stdin.write(`${text}\n`);
        if (id === undefined) return Promise.resolve('');
        return new Promise<string>((answered) => waiting.push({ id, resolve: answered }));
      };
      options.input(send).then(
        () => child.stdin.end(),
        (error: unknown) => {
          child.kill('SIGKILL');
          reject(error instanceof Error ? error : new Error(String(error)));
        },
      );
    } else {
      child.stdin.end();
    }
  });
}

/** The spans on stderr, and every other stderr line (which should be none). */
function parseStderr(stderr: string): { spans: ExportedSpan[]; other: string[] } {
  const spans: ExportedSpan[] = [];
  const other: string[] = [];
  for (const line of stderr.split('\n')) {
    if (line.length === 0) continue;
    if (line.startsWith('{"traceId"')) spans.push(JSON.parse(line) as ExportedSpan);
    else other.push(line);
  }
  return { spans, other };
}

function spansNamed(spans: readonly ExportedSpan[], name: string, kind: number): ExportedSpan[] {
  return spans.filter((s) => s.name === name && s.kind === kind);
}

/** The one span of that name and kind: two would mean the transport was instrumented twice. */
function theSpan(spans: readonly ExportedSpan[], name: string, kind: number): ExportedSpan {
  const found = spansNamed(spans, name, kind);
  if (found.length !== 1) {
    throw new Error(
      `expected one ${name}/${kind} span, found ${found.length}; have: ${spans
        .map((s) => `${s.name}/${s.kind}`)
        .join(', ')}`,
    );
  }
  return found[0]!;
}

/**
 * What an instrumented in-process echo call looks like: one SERVER and one CLIENT span
 * `tools/call echo` with the conventions' attributes, the server's span a child of the
 * client's (trace context through `_meta`), every session's spans named after the server.
 */
function expectEchoCall(run: Run, serverName: string, clientName: string): ExportedSpan[] {
  const { spans, other } = parseStderr(run.stderr);
  expect(other).toEqual([]);
  expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
  const sent = theSpan(spans, 'tools/call echo', CLIENT);
  const received = theSpan(spans, 'tools/call echo', SERVER);
  for (const span of [sent, received]) {
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'echo',
      'gen_ai.operation.name': 'execute_tool',
      'jsonrpc.request.id': expect.stringMatching(/^\d+$/),
      'mcp.protocol.version': expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/),
      'mcp.session.id': expect.any(String),
    });
    expect(span.status.code).not.toBe(2);
    expect(span.resource).toMatchObject({
      'service.name': serverName,
      'mcp.client.name': clientName,
    });
  }
  expect(received.traceId).toBe(sent.traceId);
  expect(received.parentSpanId).toBe(sent.spanId);
  // The handshake, once per side.
  theSpan(spans, 'initialize', CLIENT);
  theSpan(spans, 'initialize', SERVER);
  return spans;
}

describe('node --import mcp-otel/register', () => {
  it(
    'instruments an ES module app (SDK 1.x, ESM entry): SERVER and CLIENT spans, stdout untouched',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-app.mjs')]);
      expect(run.stdout).toBe('hello from esm\n');
      expectEchoCall(run, 'register-esm-server', 'register-esm-client');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'instruments a CommonJS app (SDK 1.x, CJS entry)',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-app.cjs')]);
      expect(run.stdout).toBe('hello from cjs\n');
      expectEchoCall(run, 'register-cjs-server', 'register-cjs-client');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'instruments both entries of the dual package in one process, each once: an ESM server and a client built by a CommonJS dependency',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-dual-app.mjs')]);
      expect(run.stdout).toBe('hello from both\n');
      expectEchoCall(run, 'register-dual-server', 'register-dual-client');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'instruments an ES module app on SDK 2.x, including the client’s server/discover probe before Protocol.connect()',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-v2-app.mjs')]);
      expect(run.stdout).toBe('hello from v2 esm\n');
      const spans = expectEchoCall(run, 'register-v2-esm-server', 'register-v2-esm-client');
      // The probe runs on the raw transport inside Client.connect(): seen only because
      // Client.prototype.connect is patched, not just the Protocol one.
      const probe = theSpan(spans, 'server/discover', CLIENT);
      expect(probe.attributes).toMatchObject({ 'mcp.method.name': 'server/discover' });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'instruments a CommonJS app on SDK 2.x',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-v2-app.cjs')]);
      expect(run.stdout).toBe('hello from v2 cjs\n');
      expectEchoCall(run, 'register-v2-cjs-server', 'register-v2-cjs-client');
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'instruments a stdio server: stdout carries only the JSON-RPC responses, spans go to stderr',
    async () => {
      const run = await runNode([...IMPORT, join(FIXTURES, 'register-stdio-server.mjs')], {
        input: async (send) => {
          await send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: 1,
              method: 'initialize',
              params: {
                protocolVersion: '2025-06-18',
                capabilities: {},
                clientInfo: { name: 'raw-client', version: '0.1.0' },
              },
            }),
          );
          await send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
          await send(
            JSON.stringify({
              jsonrpc: '2.0',
              id: 2,
              method: 'tools/call',
              params: { name: 'echo', arguments: { text: 'over stdio' } },
            }),
          );
        },
      });
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
      const lines = run.stdout.split('\n').filter((line) => line.length > 0);
      expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([
        expect.objectContaining({ jsonrpc: '2.0', id: 1, result: expect.any(Object) }),
        {
          jsonrpc: '2.0',
          id: 2,
          result: { content: [{ type: 'text', text: 'over stdio' }] },
        },
      ]);
      const { spans, other } = parseStderr(run.stderr);
      expect(other).toEqual([]);
      const received = theSpan(spans, 'tools/call echo', SERVER);
      expect(received.attributes).toMatchObject({
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'echo',
        'jsonrpc.request.id': '2',
        'mcp.protocol.version': '2025-06-18',
        'network.transport': 'pipe',
      });
      expect(received.resource).toMatchObject({
        'service.name': 'register-stdio-server',
        'mcp.client.name': 'raw-client',
      });
      theSpan(spans, 'initialize', SERVER);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * A directory outside the repo with `fixture` in it and, with `sdk`, its own copy of
 * `@modelcontextprotocol/sdk` (its dependencies linked from the repo's node_modules).
 */
function appDirectory(fixture: string, options: { sdk: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-otel-register-'));
  temporary.push(dir);
  copyFileSync(join(FIXTURES, fixture), join(dir, fixture));
  if (options.sdk) {
    const from = join(ROOT, 'node_modules', '@modelcontextprotocol', 'sdk');
    const to = join(dir, 'node_modules', '@modelcontextprotocol', 'sdk');
    cpSync(from, to, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const name of Object.keys(manifest.dependencies ?? {})) {
      const installed = join(ROOT, 'node_modules', name);
      if (!existsSync(installed)) continue;
      const link = join(dir, 'node_modules', name);
      mkdirSync(join(link, '..'), { recursive: true });
      symlinkSync(installed, link, 'dir');
    }
  }
  return dir;
}

describe('which SDK copy', () => {
  it('finds, for each SDK package, the very files Node’s ESM and CommonJS resolvers load', async () => {
    const specifiers = {
      '@modelcontextprotocol/sdk': '@modelcontextprotocol/sdk/shared/protocol.js',
      '@modelcontextprotocol/server': '@modelcontextprotocol/server',
      '@modelcontextprotocol/client': '@modelcontextprotocol/client',
    };
    // Node's own ESM resolution, from a module in the repo (import.meta.resolve, one argument).
    const script = `for (const s of ${JSON.stringify(Object.values(specifiers))}) console.log(import.meta.resolve(s));`;
    const run = await runNode(['--input-type=module', '-e', script]);
    const esm = run.stdout.split('\n').filter((line) => line.length > 0);
    const cjs = Object.values(specifiers).map((s) => requireHere.resolve(s));

    const { locateSdk } = await import('../../src/register/locate-sdk.js');
    const found = locateSdk(join(ROOT, 'app.mjs'), ROOT).modules;
    expect(found.map((m) => [m.packageName, m.format, pathToFileURL(m.file).href])).toEqual(
      Object.keys(specifiers).flatMap((name, i) => [
        [name, 'esm', esm[i]],
        [name, 'cjs', pathToFileURL(cjs[i]!).href],
      ]),
    );
    // Dual packages: two different files each.
    expect(new Set(found.map((m) => m.file)).size).toBe(6);
  });

  it(
    'patches the copy the app resolves from its own location, not the one next to mcp-otel nor the one in the working directory',
    async () => {
      const dir = appDirectory('register-app.mjs', { sdk: true });
      // Started from the repo, whose node_modules holds another copy of the SDK.
      const run = await runNode([...IMPORT, join(dir, 'register-app.mjs')], { cwd: ROOT });
      expect(run.stdout).toBe('hello from esm\n');
      expectEchoCall(run, 'register-esm-server', 'register-esm-client');
    },
    TEST_TIMEOUT_MS,
  );
});

describe('node --require mcp-otel/register', () => {
  it.each([
    ['SDK 1.x', 'register-app.cjs', 'hello from cjs\n', 'register-cjs'],
    ['SDK 2.x', 'register-v2-app.cjs', 'hello from v2 cjs\n', 'register-v2-cjs'],
  ])(
    'instruments a CommonJS app (%s)',
    async (_generation, fixture, output, name) => {
      const run = await runNode([...REQUIRE, join(FIXTURES, fixture)]);
      expect(run.stdout).toBe(output);
      expectEchoCall(run, `${name}-server`, `${name}-client`);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'says in one line that an ES module app needs --import, and leaves the app alone',
    async () => {
      const run = await runNode([...REQUIRE, join(FIXTURES, 'register-app.mjs')]);
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
      expect(run.stdout).toBe('hello from esm\n');
      const { spans, other } = parseStderr(run.stderr);
      expect(spans).toEqual([]);
      expect(other).toEqual([
        expect.stringMatching(
          /^\[mcp-otel\] warn: register: .*register-app\.mjs is an ES module; .*--import mcp-otel\/register$/,
        ),
      ]);
    },
    TEST_TIMEOUT_MS,
  );
});

describe('no MCP SDK resolvable from the app', () => {
  it.each([
    ['--import', IMPORT, 'register-no-sdk-app.mjs'],
    ['--require', REQUIRE, 'register-no-sdk-app.cjs'],
  ])(
    '%s: one diagnostic line on stderr, the app runs and exits as it would have',
    async (_flag, flags, fixture) => {
      // Outside the repo, so no node_modules up the tree holds the SDK; register is loaded by
      // absolute path, so its own imports still resolve from the repo.
      const dir = appDirectory(fixture, { sdk: false });
      const app = join(dir, fixture);
      expect(() => createRequire(app).resolve('@modelcontextprotocol/sdk')).toThrow();

      const run = await runNode([...flags, app], { cwd: dir });
      expect({ code: run.code, signal: run.signal }).toEqual({ code: 0, signal: null });
      expect(run.stdout).toBe('app ran\n');
      expect(run.stderr.split('\n').filter((line) => line.length > 0)).toEqual([
        expect.stringMatching(
          /^\[mcp-otel\] warn: register: no MCP SDK \(@modelcontextprotocol\/sdk, @modelcontextprotocol\/server, @modelcontextprotocol\/client\) resolvable from .+; nothing is instrumented$/,
        ),
      ]);
      expect(run.stderr).toContain(dir);
    },
    TEST_TIMEOUT_MS,
  );
});

/**
 * An "agent": one MCP Client per server, both instrumented with `instrument(client)`, doing its
 * work inside one outer span, so the whole run is ONE trace across three processes:
 *
 *   agent run                                   (this process)
 *   ├─ tools/call get-weather      CLIENT       (this process)
 *   │  └─ tools/call get-weather   SERVER       (weather-stdio.ts, a child on stdio)
 *   │     └─ GET                   CLIENT       (its fetch to the weather API)
 *   └─ tools/call add-note         CLIENT       (this process)
 *      └─ tools/call add-note      SERVER       (notes-http.ts, a child on Streamable HTTP)
 *
 * The MCP spans carry the trace context to the servers in `params._meta`.
 * Set NOTES_URL to use a notes server that is already running; otherwise one is started.
 *
 *   npx tsx examples/clients/agent.ts     # OTLP to localhost:4318 unless OTEL_* say otherwise
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { SpanStatusCode, trace } from '@opentelemetry/api';
import { instrument, shutdown } from 'mcp-otel';

/** The repository root: children run from it, so `--import tsx` and tsconfig paths resolve. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEATHER_SERVER = fileURLToPath(new URL('../servers/weather-stdio.ts', import.meta.url));
const NOTES_SERVER = fileURLToPath(new URL('../servers/notes-http.ts', import.meta.url));
/** Bound on a child starting up (tsx compiles on the fly; slow CI machines are slow). */
const STARTUP_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;

export interface AgentOptions {
  /** A running notes server's MCP URL. @default process.env.NOTES_URL, else a child is started */
  notesUrl?: string;
}

/** What the agent did, for the demo and the tests. */
export interface AgentResult {
  /** The trace id of the `agent run` span. */
  readonly traceId: string;
  readonly weather: string;
  readonly forecast: string;
  /** `isError` of `fail-sometimes` attempts 1 and 2. */
  readonly flaky: readonly boolean[];
  readonly prompt: string;
  readonly cities: readonly string[];
  /** `tools/list` pages the notes server answered with, and the tools they held. */
  readonly notesPages: number;
  readonly notesTools: number;
  /** Whether `notifications/tools/list_changed` arrived after `add-note`. */
  readonly listChanged: boolean;
  readonly notesToolsAfter: number;
  /** What the tool that `add-note` created returned. */
  readonly noteText: string;
}

export async function main(options: AgentOptions = {}): Promise<AgentResult> {
  const notesUrl = options.notesUrl ?? process.env.NOTES_URL;
  const notesChild = notesUrl ? undefined : await launchNotesServer();
  // One line each. `serviceName` names this process in the backend (OTEL_SERVICE_NAME wins).
  const weather = instrument(new Client({ name: 'agent', version: '1.0.0' }), {
    serviceName: 'agent',
  });
  const notes = instrument(new Client({ name: 'agent', version: '1.0.0' }), {
    serviceName: 'agent',
  });
  // After instrument(): its pipeline is the global tracer provider now, so the agent's own span
  // goes where the MCP spans go.
  const tracer = trace.getTracer('agent');

  try {
    return await tracer.startActiveSpan('agent run', async (span) => {
      try {
        const result = await run(weather, notes, notesUrl ?? notesChild!.url, span.spanContext());
        return result;
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
        throw error;
      } finally {
        span.end();
      }
    });
  } finally {
    // Closing stdin lets the weather server flush its spans and exit.
    await weather.close().catch(() => undefined);
    await notes.close().catch(() => undefined);
    await notesChild?.stop();
  }
}

async function run(
  weather: Client,
  notes: Client,
  notesUrl: string,
  agentSpan: { traceId: string },
): Promise<AgentResult> {
  const timeout = { timeout: REQUEST_TIMEOUT_MS };

  // ── weather, over stdio: the server is a child process
  await weather.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: ['--import', 'tsx', WEATHER_SERVER],
      cwd: ROOT,
      env: inheritedEnv(),
      stderr: 'inherit',
    }),
    timeout,
  );
  await weather.listTools(undefined, timeout);
  const current = await weather.callTool(
    { name: 'get-weather', arguments: { city: 'Paris' } },
    undefined,
    timeout,
  );
  const forecast = await weather.callTool(
    { name: 'get-forecast', arguments: { city: 'Paris', days: 3 } },
    undefined,
    timeout,
  );
  const flaky: boolean[] = [];
  for (const attempt of [1, 2]) {
    const result = await weather.callTool(
      { name: 'fail-sometimes', arguments: { attempt } },
      undefined,
      timeout,
    );
    flaky.push(result.isError === true);
  }
  const prompt = await weather.getPrompt(
    { name: 'weather-report', arguments: { city: 'Paris' } },
    timeout,
  );
  const cities = await weather.readResource({ uri: 'weather://cities' }, timeout);

  // ── notes, over Streamable HTTP
  let signalChange: () => void = () => undefined;
  const changed = new Promise<boolean>((resolve) => {
    signalChange = () => resolve(true);
    setTimeout(() => resolve(false), REQUEST_TIMEOUT_MS).unref();
  });
  notes.setNotificationHandler(ToolListChangedNotificationSchema, () => signalChange());
  const notesTransport = new StreamableHTTPClientTransport(new URL(notesUrl));
  await notes.connect(notesTransport, timeout);
  const before = await listAllTools(notes, timeout);
  await notes.callTool(
    { name: 'add-note', arguments: { title: 'Packing list', text: 'umbrella, Paris is rainy' } },
    undefined,
    timeout,
  );
  const listChanged = await changed;
  const after = await listAllTools(notes, timeout);
  const note = await notes.callTool(
    { name: 'read-note-packing-list', arguments: {} },
    undefined,
    timeout,
  );
  await notesTransport.terminateSession().catch(() => undefined);

  const result: AgentResult = {
    traceId: agentSpan.traceId,
    weather: textOf(current.content),
    forecast: textOf(forecast.content),
    flaky,
    prompt: textOf(prompt.messages.map((m) => m.content)),
    cities: Object.keys(JSON.parse(textOf(cities.contents)) as Record<string, unknown>),
    notesPages: before.pages,
    notesTools: before.names.length,
    listChanged,
    notesToolsAfter: after.names.length,
    noteText: textOf(note.content),
  };
  process.stderr.write(
    [
      `agent: ${result.weather}`,
      `agent: fail-sometimes isError per attempt: ${flaky.join(', ')}`,
      `agent: notes has ${result.notesTools} tools in ${result.notesPages} pages; after add-note` +
        ` (list_changed: ${listChanged}) ${result.notesToolsAfter}`,
      `agent: trace ${result.traceId}`,
      '',
    ].join('\n'),
  );
  return result;
}

/** Follows `nextCursor` to the end. */
async function listAllTools(
  client: Client,
  options: { timeout: number },
): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await client.listTools(cursor === undefined ? undefined : { cursor }, options);
    pages++;
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor !== undefined && pages < 100);
  return { names, pages };
}

function textOf(content: unknown): string {
  if (!Array.isArray(content)) return '';
  return content
    .map((item: { text?: unknown }) => (typeof item.text === 'string' ? item.text : ''))
    .join('\n');
}

/** The children get our environment (OTEL_* included); the SDK's default passes only a few. */
function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) env[key] = value;
  return env;
}

interface NotesChild {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts examples/servers/notes-http.ts as a child and reads its URL from its stderr. */
async function launchNotesServer(): Promise<NotesChild> {
  const child = spawn(process.execPath, ['--import', 'tsx', NOTES_SERVER], {
    cwd: ROOT,
    env: { ...process.env, NOTES_PORT: '0' },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('notes server did not start in time')),
      STARTUP_TIMEOUT_MS,
    );
    child.once('exit', (code) => reject(new Error(`notes server exited (${code})`)));
    createInterface({ input: child.stderr }).on('line', (line) => {
      process.stderr.write(line + '\n');
      const match = /listening on (\S+)/.exec(line);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  }).catch(async (error: unknown) => {
    await stopChild(child, exited);
    throw error;
  });
  return { url, stop: () => stopChild(child, exited) };
}

/** SIGTERM (the server flushes its spans and exits), SIGKILL if it is still there later. */
async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
  await shutdown(); // this process's spans
}

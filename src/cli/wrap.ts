import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { instrumentTransport } from '../instrument.js';
import { reportWarning } from '../diagnostics.js';
import type { CliOptions } from './args.js';
import { LineSplitter } from './line-splitter.js';
import { createCliTelemetry } from './telemetry.js';

/** How long telemetry may take to get out after the server exits. */
export const EXIT_FLUSH_TIMEOUT_MS = 2_000;

type Message = Record<string, unknown>;

/**
 * The client-facing side of the proxy, as an MCP Transport, so the one middleware observes it:
 * what the client sends arrives through `onmessage` (role server: SERVER spans), what the server
 * sends leaves through `send` (responses end those spans; server→client requests are CLIENT
 * spans). Bytes are written as they came unless a message was replaced (trace context in
 * `_meta`); the class name starts with "Stdio" so it is reported as the stdio transport.
 */
export class StdioProxyTransport {
  onmessage?: (message: unknown, extra?: unknown) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  /** The parsed message whose raw line `send` may write as it is. */
  private original: unknown;
  private originalLine: Buffer | undefined;
  private closed = false;

  constructor(private readonly toClient: (chunk: Buffer | string) => void) {}

  start(): Promise<void> {
    return Promise.resolve();
  }

  /** A line from the server: hands the parsed message to `send` with its raw bytes. */
  fromServer(message: unknown, line: Buffer): void {
    this.original = message;
    this.originalLine = line;
    try {
      void this.send(message);
    } finally {
      this.original = undefined;
      this.originalLine = undefined;
    }
  }

  send(message: unknown): Promise<void> {
    if (message === this.original && this.originalLine) this.toClient(this.originalLine);
    else this.toClient(JSON.stringify(message) + '\n');
    return Promise.resolve();
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.onclose?.();
    }
    return Promise.resolve();
  }
}

/** Streams of the wrapper itself; replaceable for tests. */
export interface WrapIo {
  readonly stdin: Readable;
  readonly stdout: Writable;
}

/**
 * `mcp-otel wrap -- <command...>`: runs the server as a child and sits between the client's
 * stdio and the child's, framing newline-delimited JSON-RPC as the SDK's stdio transport does.
 * Every line is forwarded as it came (non-JSON ones too, counted); the only change is W3C trace
 * context in forwarded requests' `params._meta`, which `--no-propagate` turns off. Resolves with
 * the exit code the wrapper should end with (or the signal that ended the child).
 */
export async function runWrap(
  options: CliOptions,
  io: WrapIo = { stdin: process.stdin, stdout: process.stdout },
): Promise<{ code: number; signal: NodeJS.Signals | undefined }> {
  const [command, ...args] = options.childCommand;
  if (command === undefined) throw new Error('wrap needs a command');
  const telemetry = createCliTelemetry(options);
  const otel = telemetry.otel;
  let nonJsonLines = 0;

  const child: ChildProcess = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const childIn = child.stdin;
  const childOut = child.stdout;
  if (!childIn || !childOut) throw new Error('could not open the server’s stdio');

  const writeClient = guardedWriter(
    io.stdout,
    () => childOut.pause(),
    () => childOut.resume(),
  );
  const writeServer = guardedWriter(
    childIn,
    () => io.stdin.pause(),
    () => io.stdin.resume(),
  );

  const transport = new StdioProxyTransport(writeClient);
  let currentLine: Buffer | undefined;
  transport.onmessage = (message) => {
    // Runs inside the SERVER span of the request (the middleware's live context), so the
    // context injected here makes the proxy's span the parent of the real server's span.
    const line = currentLine;
    if (
      otel &&
      !options.noPropagate &&
      isMessage(message) &&
      typeof message.method === 'string' &&
      line !== undefined
    ) {
      const out = otel.injectActiveContext(message);
      if (out !== message) {
        writeServer(JSON.stringify(out) + '\n');
        return;
      }
    }
    if (line) writeServer(line);
  };
  instrumentTransport(transport, telemetry.instrumentOptions);

  const fromClient = new LineSplitter();
  io.stdin.on('data', (chunk: Buffer) => {
    fromClient.push(chunk, (line) => {
      const message = parseLine(line);
      if (message === undefined) {
        nonJsonLines++;
        writeServer(line);
        return;
      }
      currentLine = line;
      try {
        if (transport.onmessage) transport.onmessage(message);
        else writeServer(line);
      } finally {
        currentLine = undefined;
      }
    });
  });
  io.stdin.on('end', () => {
    fromClient.end((line) => writeServer(line));
    childIn.end();
  });

  const fromServer = new LineSplitter();
  childOut.on('data', (chunk: Buffer) => {
    fromServer.push(chunk, (line) => {
      const message = parseLine(line);
      if (message === undefined) {
        nonJsonLines++;
        writeClient(line);
        return;
      }
      transport.fromServer(message, line);
    });
  });
  const serverOutputDone = new Promise<void>((resolve) => {
    childOut.on('end', () => {
      fromServer.end((line) => writeClient(line));
      resolve();
    });
    childOut.on('error', () => resolve());
  });

  const forward = (signal: NodeJS.Signals): void => {
    child.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);

  const exit = await new Promise<{ code: number; signal: NodeJS.Signals | undefined }>(
    (resolve) => {
      child.on('error', (error) => {
        process.stderr.write(`mcp-otel: could not start '${command}': ${error.message}\n`);
        resolve({ code: 127, signal: undefined });
      });
      child.on('exit', (code, signal) => resolve({ code: code ?? 1, signal: signal ?? undefined }));
    },
  );
  process.removeListener('SIGTERM', forward);
  process.removeListener('SIGINT', forward);
  await Promise.race([serverOutputDone, delay(500)]);
  await transport.close();
  if (nonJsonLines > 0) reportWarning(`passed ${nonJsonLines} non-JSON line(s) through unchanged`);
  await Promise.race([telemetry.bus.shutdown(), delay(EXIT_FLUSH_TIMEOUT_MS)]);
  return exit;
}

function parseLine(line: Buffer): unknown {
  let text = line.toString('utf8');
  if (text.endsWith('\n')) text = text.slice(0, -1);
  if (text.endsWith('\r')) text = text.slice(0, -1);
  if (text.trim() === '') return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Writes with backpressure (pause the source until drain); a closed pipe is ignored. */
function guardedWriter(
  target: Writable,
  pause: () => void,
  resume: () => void,
): (chunk: Buffer | string) => void {
  let broken = false;
  target.on('error', () => {
    broken = true;
  });
  return (chunk) => {
    if (broken || target.destroyed || target.writableEnded) return;
    if (!target.write(chunk)) {
      pause();
      target.once('drain', resume);
    }
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

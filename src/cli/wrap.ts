import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { instrumentTransport } from '../instrument.js';
import { reportError, reportWarning } from '../diagnostics.js';
import type { CliOptions } from './args.js';
import { LineSplitter } from './line-splitter.js';
import { ProxySide } from './proxy-side.js';
import { createCliTelemetry } from './telemetry.js';
import type { OtelSink } from '../sinks/otel/otel-sink.js';

/** How long telemetry may take to get out after the server exits. */
export const EXIT_FLUSH_TIMEOUT_MS = 2_000;
/** How long the server's last bytes may take to reach the client after the server exits. */
export const EXIT_OUTPUT_TIMEOUT_MS = 1_000;

/**
 * Signals passed on to the server. The wrapper itself ends when the server does, with its
 * status, so a client that stops the wrapper stops the server the way it would have directly.
 */
const FORWARDED_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

type Message = Record<string, unknown>;

/**
 * The client-facing side of the proxy, as an MCP Transport, so the one middleware observes it:
 * what the client sends arrives through `onmessage` (role server: SERVER spans), what the server
 * sends leaves through `send` (responses end those spans; server→client requests are CLIENT
 * spans). A line is written as it came; when the middleware added trace context to a message,
 * only those `_meta` members are spliced into the original bytes. The class name starts with
 * "Stdio" so it reads as the stdio transport.
 */
export class StdioProxyTransport extends ProxySide {
  /** The parsed message whose raw line `send` writes. */
  private original: unknown;
  private originalLine: Buffer | undefined;

  /**
   * `injects`: whether the middleware may give messages trace context on their way out (it
   * never does with propagation off, nor to a response).
   */
  constructor(
    private readonly toClient: (chunk: Buffer) => void,
    private readonly injects = true,
  ) {
    super();
  }

  /**
   * A line from the server: written, and the parsed message observed through `send`. A line
   * observation cannot change goes out first, so observing never delays it; one that may be
   * given trace context (a request or notification, with propagation on) is written by `send`
   * once observed, or here if observing failed before it could be.
   */
  fromServer(message: unknown, line: Buffer): void {
    const early = !this.injects || !hasMethod(message);
    if (early) this.toClient(line);
    this.original = message;
    this.originalLine = early ? undefined : line;
    try {
      void this.send(message);
    } catch (error) {
      reportError('observing a message from the server', error);
    } finally {
      if (this.originalLine !== undefined) this.toClient(line);
      this.original = undefined;
      this.originalLine = undefined;
    }
  }

  send(message: unknown): Promise<void> {
    const line = this.originalLine;
    if (this.original !== undefined) {
      // Inside fromServer: its line, once (already written when it went out first).
      if (line !== undefined) {
        const bytes = message === this.original ? line : asSent(this.original, message, line);
        this.originalLine = undefined;
        this.toClient(bytes);
      }
    } else {
      this.toClient(Buffer.from(JSON.stringify(message) + '\n', 'utf8'));
    }
    return Promise.resolve();
  }
}

/** Streams of the wrapper itself; replaceable for tests. */
export interface WrapIo {
  readonly stdin: Readable;
  /** Where the server's bytes go: its state and events (drain, error, close). */
  readonly stdout: Writable;
  /** Writes to `stdout` (processIo's: it took `stdout.write` itself from everyone else). */
  readonly write: (chunk: Buffer, callback?: (error?: Error | null) => void) => boolean;
}

/**
 * The process's stdin, and its stdout reserved for the server's bytes: the returned `write` is
 * the only way left to write there. Anything else that writes to `process.stdout` (a library's
 * `console.log`, OpenTelemetry's diag console logger under `OTEL_LOG_LEVEL`, a console metrics
 * exporter) goes to stderr instead, since on stdout it would corrupt the client's JSON-RPC.
 * The server's bytes go straight to the stdout stream, with no stream of ours in between.
 */
export function processIo(): WrapIo {
  const stdout = process.stdout;
  const write = stdout.write.bind(stdout) as WrapIo['write'];
  Object.defineProperty(stdout, 'write', {
    configurable: true,
    writable: true,
    value: process.stderr.write.bind(process.stderr),
  });
  return { stdin: process.stdin, stdout, write };
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
  io: WrapIo = processIo(),
): Promise<{ code: number; signal: NodeJS.Signals | undefined }> {
  const [command, ...args] = options.childCommand;
  if (command === undefined) throw new Error('wrap needs a command');
  const telemetry = createCliTelemetry(options);
  const otel = options.noPropagate ? undefined : telemetry.otel;
  let nonJsonLines = 0;

  const child: ChildProcess = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const childIn = child.stdin;
  const childOut = child.stdout;
  if (!childIn || !childOut) throw new Error('could not open the server’s stdio');

  const writeClient = guardedWriter(
    io.stdout,
    io.write,
    () => childOut.pause(),
    () => childOut.resume(),
  );
  const writeServer = guardedWriter(
    childIn,
    (chunk) => childIn.write(chunk),
    () => io.stdin.pause(),
    () => io.stdin.resume(),
  );

  const transport = new StdioProxyTransport(writeClient, otel !== undefined);
  /** The client's line being observed, until it is written (with trace context, if any). */
  let unwritten: Buffer | undefined;
  transport.onmessage = (message) => {
    const line = unwritten;
    if (line === undefined) return;
    // Runs inside the SERVER span of the request (the middleware's live context), so the
    // context injected here makes the proxy's span the parent of the real server's span.
    const bytes = otel && hasMethod(message) ? withActiveContext(message, otel, line) : line;
    unwritten = undefined;
    writeServer(bytes);
  };
  // The kind is fixed, not detected from the class name, which a minifier may rename.
  instrumentTransport(transport, { ...telemetry.instrumentOptions, transportKind: 'stdio' });

  // A line from the client. Without propagation observing cannot change it, so it goes out
  // first; otherwise it goes out from the handler the middleware runs inside the request's
  // span, or after observing, should that fail before reaching the handler.
  const clientLine = (line: Buffer): void => {
    const message = parseLine(line);
    if (message === undefined) {
      nonJsonLines++;
      writeServer(line);
      return;
    }
    if (otel) unwritten = line;
    else writeServer(line);
    try {
      transport.onmessage?.(message);
    } catch (error) {
      reportError('observing a message from the client', error);
    } finally {
      if (unwritten !== undefined) {
        unwritten = undefined;
        writeServer(line);
      }
    }
  };
  const serverLine = (line: Buffer): void => {
    const message = parseLine(line);
    if (message === undefined) {
      nonJsonLines++;
      writeClient(line);
      return;
    }
    transport.fromServer(message, line);
  };
  const lastLine =
    (write: (line: Buffer) => void) =>
    (line: Buffer): void => {
      if (parseLine(line) === undefined) nonJsonLines++;
      write(line);
    };

  const fromClient = new LineSplitter();
  io.stdin.on('data', (chunk: Buffer) => fromClient.push(chunk, clientLine));
  io.stdin.on('end', () => {
    fromClient.end(lastLine(writeServer));
    childIn.end();
  });

  const fromServer = new LineSplitter();
  childOut.on('data', (chunk: Buffer) => fromServer.push(chunk, serverLine));
  const serverOutputDone = new Promise<void>((resolve) => {
    childOut.on('end', () => {
      fromServer.end(lastLine(writeClient));
      resolve();
    });
    childOut.on('error', () => resolve());
  });

  // Kept until the end: a signal that arrives while telemetry flushes (the client's close()
  // sends SIGTERM after 2 s) finds the server gone and waits for the bounded flush.
  const forward = (signal: NodeJS.Signals): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);

  try {
    const exit = await new Promise<{ code: number; signal: NodeJS.Signals | undefined }>(
      (resolve) => {
        child.on('error', (error: NodeJS.ErrnoException) => {
          // Also emitted when a forwarded signal cannot be delivered: not a failure to start.
          if (child.pid !== undefined) {
            reportWarning(`signalling the server: ${error.message}`);
            return;
          }
          process.stderr.write(`mcp-otel: could not start '${command}': ${error.message}\n`);
          // The shell's conventions: 127 not found, 126 found but not executable.
          resolve({ code: error.code === 'EACCES' ? 126 : 127, signal: undefined });
        });
        child.on('exit', (code, signal) =>
          resolve({ code: code ?? 1, signal: signal ?? undefined }),
        );
      },
    );
    // The server's last lines first (the client waits for them), then telemetry.
    await Promise.race([serverOutputDone, delay(EXIT_OUTPUT_TIMEOUT_MS)]);
    await Promise.race([flushed(io), delay(EXIT_OUTPUT_TIMEOUT_MS)]);
    // Requests still unanswered end `closed`, the session ends.
    await transport.close();
    if (nonJsonLines > 0) {
      reportWarning(`passed ${nonJsonLines} non-JSON line(s) through unchanged`);
    }
    await Promise.race([telemetry.bus.shutdown(), delay(EXIT_FLUSH_TIMEOUT_MS)]);
    return exit;
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.removeListener(signal, forward);
  }
}

/**
 * The JSON object or array on a line, or undefined for anything else (passed through as is).
 * JSON.parse takes the line whole: its `\n` and any `\r` are JSON whitespace. A line whose
 * first non-blank byte opens no object or array is not parsed at all.
 */
function parseLine(line: Buffer): unknown {
  const first = line[skipWhitespace(line, 0)];
  if (first !== OPEN_OBJECT && first !== OPEN_ARRAY) return undefined;
  try {
    const value: unknown = JSON.parse(line.toString('utf8'));
    return typeof value === 'object' && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A request or notification (a JSON-RPC message with a method), not a response or batch. */
function hasMethod(value: unknown): value is Message {
  return isMessage(value) && typeof value.method === 'string';
}

/** `line` as the middleware sent it (`sent`, a copy with trace context, or the message itself). */
function asSent(original: unknown, sent: unknown, line: Buffer): Buffer {
  try {
    return withInjectedMeta(original, sent, line);
  } catch (error) {
    reportError('propagating trace context (the line goes out unchanged)', error);
    return line;
  }
}

/** `line` with the active context's trace context (the span the middleware runs us in). */
function withActiveContext(message: Message, otel: OtelSink, line: Buffer): Buffer {
  try {
    // Only the members to set, spliced into the bytes: no copy of the message to compare.
    const changes = otel.activeContextMeta(message);
    return changes === undefined ? line : (spliceMeta(line, changes) ?? line);
  } catch (error) {
    reportError('propagating trace context (the line goes out unchanged)', error);
    return line;
  }
}

/**
 * `line` with the `_meta` members that `injected` has and `original` lacks (or has with another
 * value) spliced into its bytes. Everything else stays byte for byte: re-serialising the parsed
 * message instead would change what JSON.parse cannot keep (integers beyond 2^53 such as
 * 64-bit ids, number spellings, escapes, invalid UTF-8, duplicate keys). When the line has no
 * place for `_meta` (positional `params`, a `_meta` that is not an object), it is forwarded
 * unchanged: no propagation rather than a changed message.
 */
function withInjectedMeta(original: unknown, injected: unknown, line: Buffer): Buffer {
  if (injected === original || !isMessage(original) || !isMessage(injected)) return line;
  const before = metaOf(original);
  const after = metaOf(injected);
  if (after === undefined) return line;
  const changes: [string, string][] = [];
  for (const [key, value] of Object.entries(after)) {
    if (typeof value !== 'string') continue;
    if (before !== undefined && Object.hasOwn(before, key) && before[key] === value) continue;
    changes.push([key, value]);
  }
  if (changes.length === 0) return line;
  return spliceMeta(line, changes) ?? line;
}

function metaOf(message: Message): Message | undefined {
  const params = message.params;
  if (!isMessage(params)) return undefined;
  return isMessage(params._meta) ? params._meta : undefined;
}

// A scanner for one JSON text that JSON.parse has already accepted: it only finds where the
// members of `params._meta` are, on the raw bytes. Every structural character is ASCII and no
// byte of a multi-byte UTF-8 sequence is, so scanning bytes is safe whatever the content.
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

interface Member {
  readonly key: string | undefined;
  readonly valueStart: number;
  readonly valueEnd: number;
}

interface ObjectSpan {
  readonly members: readonly Member[];
  /** Index of the closing brace. */
  readonly close: number;
}

interface Edit {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

/**
 * Sets `changes` in `params._meta` of the object on `line`: an existing member's value is
 * replaced, a missing member is appended (creating `_meta` and `params` as needed), in the key
 * order a spread would give. Undefined when the line does not allow it.
 */
function spliceMeta(
  line: Buffer,
  changes: readonly (readonly [string, string])[],
): Buffer | undefined {
  const top = objectAt(line, skipWhitespace(line, 0));
  if (!top) return undefined;
  const params = lastMember(top, 'params');
  if (!params) {
    const text = `"params":{"_meta":{${members(changes)}}}`;
    return applyEdits(line, [appendTo(top, text)]);
  }
  const paramsObject = objectAt(line, params.valueStart);
  if (!paramsObject) return undefined;
  const meta = lastMember(paramsObject, '_meta');
  if (!meta) return applyEdits(line, [appendTo(paramsObject, `"_meta":{${members(changes)}}`)]);
  const metaObject = objectAt(line, meta.valueStart);
  if (!metaObject) return undefined;
  const edits: Edit[] = [];
  const added: (readonly [string, string])[] = [];
  for (const change of changes) {
    const existing = lastMember(metaObject, change[0]);
    if (existing) {
      edits.push({
        start: existing.valueStart,
        end: existing.valueEnd,
        text: JSON.stringify(change[1]),
      });
    } else {
      added.push(change);
    }
  }
  if (added.length > 0) edits.push(appendTo(metaObject, members(added)));
  return applyEdits(line, edits);
}

function members(entries: readonly (readonly [string, string])[]): string {
  return entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',');
}

function appendTo(object: ObjectSpan, text: string): Edit {
  const separator = object.members.length > 0 ? ',' : '';
  return { start: object.close, end: object.close, text: separator + text };
}

function lastMember(object: ObjectSpan, key: string): Member | undefined {
  // JSON.parse keeps the last of duplicate keys; so does whoever parses the line after us.
  for (let i = object.members.length - 1; i >= 0; i--) {
    const member = object.members[i];
    if (member?.key === key) return member;
  }
  return undefined;
}

function applyEdits(line: Buffer, edits: readonly Edit[]): Buffer {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const edit of sorted) {
    pieces.push(line.subarray(at, edit.start), Buffer.from(edit.text, 'utf8'));
    at = edit.end;
  }
  pieces.push(line.subarray(at));
  return Buffer.concat(pieces);
}

/** The members of the object whose `{` is at `open`, or undefined if there is no object there. */
function objectAt(bytes: Buffer, open: number): ObjectSpan | undefined {
  if (bytes[open] !== OPEN_OBJECT) return undefined;
  const found: Member[] = [];
  let i = skipWhitespace(bytes, open + 1);
  if (bytes[i] === CLOSE_OBJECT) return { members: found, close: i };
  for (;;) {
    if (bytes[i] !== QUOTE) return undefined;
    const keyEnd = stringEnd(bytes, i);
    if (keyEnd < 0) return undefined;
    const key = decodeKey(bytes, i, keyEnd);
    i = skipWhitespace(bytes, keyEnd);
    if (bytes[i] !== COLON) return undefined;
    const valueStart = skipWhitespace(bytes, i + 1);
    const valueEnd = endOfValue(bytes, valueStart);
    if (valueEnd < 0) return undefined;
    found.push({ key, valueStart, valueEnd });
    i = skipWhitespace(bytes, valueEnd);
    if (bytes[i] === CLOSE_OBJECT) return { members: found, close: i };
    if (bytes[i] !== COMMA) return undefined;
    i = skipWhitespace(bytes, i + 1);
  }
}

function decodeKey(bytes: Buffer, start: number, end: number): string | undefined {
  const raw = bytes.toString('utf8', start, end);
  if (!raw.includes('\\')) return raw.slice(1, -1);
  try {
    const key: unknown = JSON.parse(raw);
    return typeof key === 'string' ? key : undefined;
  } catch {
    return undefined;
  }
}

function skipWhitespace(bytes: Buffer, from: number): number {
  let i = from;
  while (i < bytes.length) {
    const c = bytes[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i++;
  }
  return i;
}

/** Index just past the string whose opening quote is at `open`; -1 if it does not end. */
function stringEnd(bytes: Buffer, open: number): number {
  for (let i = open + 1; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) return i + 1;
  }
  return -1;
}

/** Index just past the value that starts at `start`; -1 if there is none. */
function endOfValue(bytes: Buffer, start: number): number {
  const first = bytes[start];
  if (first === QUOTE) return stringEnd(bytes, start);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    for (let i = start; i < bytes.length; i++) {
      const c = bytes[i];
      if (c === QUOTE) {
        const end = stringEnd(bytes, i);
        if (end < 0) return -1;
        i = end - 1;
      } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
        depth++;
      } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
    }
    return -1;
  }
  // A number, true, false or null: up to the next delimiter.
  let i = start;
  while (i < bytes.length) {
    const c = bytes[i];
    if (
      c === COMMA ||
      c === CLOSE_OBJECT ||
      c === CLOSE_ARRAY ||
      c === 0x20 ||
      c === 0x09 ||
      c === 0x0a ||
      c === 0x0d
    ) {
      break;
    }
    i++;
  }
  return i > start ? i : -1;
}

/**
 * Writes with backpressure: the source pauses until the target drains (one listener, however
 * many lines one chunk held). A closed pipe is ignored, and releases the source. `write` writes
 * to `target`, whose state and events tell the rest.
 */
function guardedWriter(
  target: Writable,
  write: (chunk: Buffer) => boolean,
  pause: () => void,
  resume: () => void,
): (chunk: Buffer) => void {
  let broken = false;
  let waiting = false;
  const release = (): void => {
    if (!waiting) return;
    waiting = false;
    resume();
  };
  target.on('error', () => {
    broken = true;
    release();
  });
  target.on('close', release);
  return (chunk) => {
    if (broken || target.destroyed || target.writableEnded) return;
    if (!write(chunk) && !waiting) {
      waiting = true;
      pause();
      target.once('drain', release);
    }
  };
}

/** Resolves once everything written to stdout so far has been handed on (or it failed). */
function flushed(io: WrapIo): Promise<void> {
  if (io.stdout.destroyed || io.stdout.writableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    io.write(Buffer.alloc(0), () => resolve());
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

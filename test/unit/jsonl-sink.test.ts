import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { setDiagnosticLogger } from '../../src/diagnostics.js';
import { EventBus } from '../../src/event-bus.js';
import type { HeartbeatEvent, ProxyEvent } from '../../src/events.js';
import { createJsonlSink, type JsonlSinkOptions } from '../../src/sinks/jsonl-sink.js';

function event(n: number): HeartbeatEvent {
  return {
    type: 'heartbeat',
    ts: n,
    server: 'srv "quoted" \n é 😀',
    uptimeSecs: n,
    requestCount: 0,
    errorCount: 0,
    activeSessions: 0,
    inFlightRequests: 0,
    droppedEvents: 0,
    eventLoopDelayMs: 0.5,
    rssBytes: 1,
    heapUsedBytes: 1,
  };
}

async function readLines(path: string): Promise<unknown[]> {
  const text = await readFile(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

let dir: string;
let errors: string[];
let warnings: string[];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mcp-otel-jsonl-'));
  errors = [];
  warnings = [];
  setDiagnosticLogger({
    warn: (message) => warnings.push(message),
    error: (message) => errors.push(message),
  });
});

afterEach(async () => {
  setDiagnosticLogger(undefined);
  await rm(dir, { recursive: true, force: true });
});

describe('createJsonlSink', () => {
  it('appends one JSON object per line; flush() waits for the write', async () => {
    const path = join(dir, 'events.jsonl');
    const sink = createJsonlSink({ path });
    expect(sink.name).toBe('jsonl');
    sink.onBatch!([event(1), event(2)]);
    sink.onEvent(event(3));
    await sink.flush!(); // a few small writes: the stream never needs 'drain'
    expect(await readLines(path)).toEqual([event(1), event(2), event(3)]);
    sink.onEvent(event(4));
    await sink.flush!();
    expect(await readLines(path)).toEqual([1, 2, 3, 4].map(event));
    await sink.shutdown!();
  }, 5_000);

  it('flush() also waits for writes larger than the stream buffer', async () => {
    const path = join(dir, 'big.jsonl');
    const sink = createJsonlSink({ path });
    const events = Array.from({ length: 2_000 }, (_, i) => event(i));
    sink.onBatch!(events);
    await sink.flush!();
    expect(await readLines(path)).toEqual(events);
    await sink.shutdown!();
  });

  it('flush() with nothing written resolves at once', async () => {
    const sink = createJsonlSink({ path: join(dir, 'never.jsonl') });
    await expect(sink.flush!()).resolves.toBeUndefined();
    await expect(sink.shutdown!()).resolves.toBeUndefined();
  });

  it('appends to an existing file', async () => {
    const path = join(dir, 'existing.jsonl');
    await writeFile(path, '{"before":true}\n');
    const sink = createJsonlSink({ path, name: 'audit' });
    expect(sink.name).toBe('audit');
    sink.onEvent(event(1));
    await sink.shutdown!();
    expect(await readLines(path)).toEqual([{ before: true }, event(1)]);
  });

  it('shutdown() writes everything out and closes the file; later calls are harmless', async () => {
    const path = join(dir, 'closed.jsonl');
    const sink = createJsonlSink({ path });
    sink.onEvent(event(1));
    await sink.shutdown!();
    expect(await readLines(path)).toEqual([event(1)]);
    await expect(sink.shutdown!()).resolves.toBeUndefined();
    await expect(sink.flush!()).resolves.toBeUndefined();
    expect(() => sink.onEvent(event(2))).not.toThrow();
    await new Promise((resolve) => setImmediate(resolve));
    expect(await readLines(path)).toEqual([event(1)]);
  });

  it('through a bus: flush() resolves promptly with every event on disk', async () => {
    const path = join(dir, 'bus.jsonl');
    const bus = new EventBus({ sinks: [createJsonlSink({ path })], flushIntervalMs: 0 });
    const events: ProxyEvent[] = [event(1), event(2), event(3)];
    for (const e of events) bus.emit(e);
    const started = performance.now();
    await bus.flush();
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(await readLines(path)).toEqual(events);
    expect(warnings).toEqual([]); // no "did not settle" from the bus
    await bus.shutdown();
    expect(errors).toEqual([]);
  }, 10_000);

  it('an unwritable path is reported once through the diagnostic logger, never thrown', async () => {
    const path = join(dir, 'missing-dir', 'events.jsonl');
    const sink = createJsonlSink({ path });
    expect(() => sink.onEvent(event(1))).not.toThrow();
    await expect(sink.flush!()).resolves.toBeUndefined();
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 2_000 });
    expect(errors[0]).toContain(path);
    expect(errors[0]).toContain('ENOENT');
    expect(() => sink.onBatch!([event(2), event(3)])).not.toThrow();
    await expect(sink.flush!()).resolves.toBeUndefined();
    await expect(sink.shutdown!()).resolves.toBeUndefined();
    expect(errors).toHaveLength(1);
  });

  it('a directory as path is reported, never thrown, also through a bus', async () => {
    const bus = new EventBus({ sinks: [createJsonlSink({ path: dir })], flushIntervalMs: 0 });
    bus.emit(event(1));
    await expect(bus.flush()).resolves.toBeUndefined();
    await vi.waitFor(() => expect(errors.join('\n')).toContain('EISDIR'), { timeout: 2_000 });
    await expect(bus.shutdown()).resolves.toBeUndefined();
  });

  it('throws a TypeError at creation without a path', () => {
    expect(() => createJsonlSink({} as JsonlSinkOptions)).toThrow(TypeError);
    expect(() => createJsonlSink({ path: '' })).toThrow(TypeError);
    expect(() => createJsonlSink(undefined as unknown as JsonlSinkOptions)).toThrow(TypeError);
    expect(() => createJsonlSink({ path: 42 } as unknown as JsonlSinkOptions)).toThrow(
      /options\.path/,
    );
  });
});

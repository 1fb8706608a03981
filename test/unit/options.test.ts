import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { setDiagnosticLogger } from '../../src/diagnostics.js';
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_PENDING_REQUESTS,
  DEFAULT_PENDING_REQUEST_TIMEOUT_MS,
  DEFAULT_SESSION_IDLE_TIMEOUT_MS,
  resolveOptions,
  type InstrumentOptions,
  type ResolvedOptions,
} from '../../src/options.js';

const DEFAULTS: ResolvedOptions = {
  serverName: undefined,
  heartbeatIntervalMs: DEFAULT_HEARTBEAT_INTERVAL_MS,
  sessionIdleTimeoutMs: DEFAULT_SESSION_IDLE_TIMEOUT_MS,
  pendingRequestTimeoutMs: DEFAULT_PENDING_REQUEST_TIMEOUT_MS,
  maxPendingRequests: DEFAULT_MAX_PENDING_REQUESTS,
  schemaTracking: true,
  captureSizes: true,
  transportKind: undefined,
};

/** Lets a test pass values of the wrong type, as a JavaScript caller can. */
const loose = (options: Record<string, unknown>): InstrumentOptions => options;

let warnings: string[];
beforeEach(() => {
  warnings = [];
  setDiagnosticLogger({ warn: (m) => warnings.push(m), error: (m) => warnings.push(m) });
});
afterEach(() => {
  setDiagnosticLogger(undefined);
});

describe('resolveOptions', () => {
  it('applies the documented defaults', () => {
    expect(DEFAULT_HEARTBEAT_INTERVAL_MS).toBe(30_000);
    expect(DEFAULT_SESSION_IDLE_TIMEOUT_MS).toBe(30 * 60_000);
    expect(DEFAULT_PENDING_REQUEST_TIMEOUT_MS).toBe(10 * 60_000);
    expect(DEFAULT_MAX_PENDING_REQUESTS).toBe(10_000);
    expect(resolveOptions(undefined)).toEqual(DEFAULTS);
    expect(resolveOptions({})).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('treats an explicit undefined as absent', () => {
    expect(
      resolveOptions({
        serverName: undefined,
        heartbeatIntervalMs: undefined,
        sessionIdleTimeoutMs: undefined,
        pendingRequestTimeoutMs: undefined,
        maxPendingRequests: undefined,
        schemaTracking: undefined,
        captureSizes: undefined,
        transportKind: undefined,
      }),
    ).toEqual(DEFAULTS);
    expect(warnings).toEqual([]);
  });

  it('keeps valid values, flooring fractions; heartbeat 0 turns heartbeats off', () => {
    expect(
      resolveOptions({
        serverName: 'weather',
        heartbeatIntervalMs: 0,
        sessionIdleTimeoutMs: 1_000.9,
        pendingRequestTimeoutMs: 5,
        maxPendingRequests: 1,
        schemaTracking: false,
        captureSizes: false,
        transportKind: 'streamable-http',
      }),
    ).toEqual({
      serverName: 'weather',
      heartbeatIntervalMs: 0,
      sessionIdleTimeoutMs: 1_000,
      pendingRequestTimeoutMs: 5,
      maxPendingRequests: 1,
      schemaTracking: false,
      captureSizes: false,
      transportKind: 'streamable-http',
    });
    expect(warnings).toEqual([]);
  });

  it.each(['stdio', 'streamable-http', 'sse', 'in-memory', 'websocket', 'custom'] as const)(
    'accepts transportKind %s',
    (kind) => {
      expect(resolveOptions({ transportKind: kind }).transportKind).toBe(kind);
    },
  );

  it('replaces each bad value by its default with one warning naming it', () => {
    const resolved = resolveOptions(
      loose({
        serverName: '',
        heartbeatIntervalMs: -1,
        sessionIdleTimeoutMs: 0,
        pendingRequestTimeoutMs: Number.NaN,
        maxPendingRequests: Number.POSITIVE_INFINITY,
        schemaTracking: 'yes',
        captureSizes: 1,
        transportKind: 'carrier-pigeon',
      }),
    );
    expect(resolved).toEqual(DEFAULTS);
    expect(warnings).toHaveLength(8);
    for (const name of [
      'serverName',
      'heartbeatIntervalMs',
      'sessionIdleTimeoutMs',
      'pendingRequestTimeoutMs',
      'maxPendingRequests',
      'schemaTracking',
      'captureSizes',
      'transportKind',
    ]) {
      expect(warnings.filter((w) => w.includes(name))).toHaveLength(1);
    }
  });

  it('rejects fractions that would floor to 0 (off, or expire at once)', () => {
    expect(
      resolveOptions({
        heartbeatIntervalMs: 0.5,
        sessionIdleTimeoutMs: 0.5,
        pendingRequestTimeoutMs: 5e-324,
        maxPendingRequests: 0.9,
      }),
    ).toEqual(DEFAULTS);
    expect(warnings).toHaveLength(4);
  });

  it('rejects numbers given as strings and prototype names as transport kinds', () => {
    expect(
      resolveOptions(loose({ heartbeatIntervalMs: '1000', transportKind: 'toString' })),
    ).toEqual(DEFAULTS);
    expect(warnings).toHaveLength(2);
  });

  it('never throws and always resolves to well-typed values (property)', () => {
    const value = fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true });
    const keys = [
      'serverName',
      'heartbeatIntervalMs',
      'sessionIdleTimeoutMs',
      'pendingRequestTimeoutMs',
      'maxPendingRequests',
      'schemaTracking',
      'captureSizes',
      'transportKind',
    ] as const;
    fc.assert(
      fc.property(
        fc.record(Object.fromEntries(keys.map((k) => [k, value])), { requiredKeys: [] }),
        (options) => {
          const resolved = resolveOptions(loose(options));
          for (const key of [
            'heartbeatIntervalMs',
            'sessionIdleTimeoutMs',
            'pendingRequestTimeoutMs',
            'maxPendingRequests',
          ] as const) {
            expect(Number.isInteger(resolved[key])).toBe(true);
            expect(resolved[key]).toBeGreaterThanOrEqual(key === 'heartbeatIntervalMs' ? 0 : 1);
          }
          expect(typeof resolved.schemaTracking).toBe('boolean');
          expect(typeof resolved.captureSizes).toBe('boolean');
          expect(resolved.serverName === undefined || typeof resolved.serverName === 'string').toBe(
            true,
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('survives values that cannot be turned into a string', () => {
    const hostile = {
      toString() {
        throw new Error('no');
      },
    };
    expect(
      resolveOptions(
        loose({
          serverName: Object.create(null),
          heartbeatIntervalMs: hostile,
          schemaTracking: Symbol('s'),
          transportKind: Object.create(null),
        }),
      ),
    ).toEqual(DEFAULTS);
    expect(warnings).toHaveLength(4);
  });
});

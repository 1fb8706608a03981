import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  diagnostics,
  guarded,
  guardedValue,
  printable,
  reportError,
  reportWarning,
  setDiagnosticLogger,
  settleWithin,
  stderrLogger,
} from '../../src/diagnostics.js';

let warnings: string[];
let errors: string[];

function capture(): void {
  warnings = [];
  errors = [];
  setDiagnosticLogger({
    warn: (m) => warnings.push(m),
    error: (m) => errors.push(m),
  });
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

beforeEach(capture);
afterEach(() => {
  setDiagnosticLogger(undefined);
  vi.useRealTimers();
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

describe('guarded', () => {
  it('contains a throw and reports it with its context', () => {
    expect(() =>
      guarded('sink x onEvent', () => {
        throw new Error('boom');
      }),
    ).not.toThrow();
    expect(errors).toEqual(['sink x onEvent: boom']);
  });

  it('contains a returned promise that rejects', async () => {
    guarded('hook', () => Promise.reject(new Error('later')));
    expect(errors).toEqual([]);
    await nextTurn();
    expect(errors).toEqual(['hook: later']);
  });

  it('reports nothing when the call succeeds', async () => {
    let ran = false;
    guarded('ok', () => {
      ran = true;
      return Promise.resolve(1);
    });
    await nextTurn();
    expect(ran).toBe(true);
    expect(errors).toEqual([]);
  });

  it('describes values that are not errors, even unprintable ones', () => {
    guarded('a', () => {
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- a host may throw anything
      throw 'plain string';
    });
    guarded('b', () => {
      throw Object.create(null);
    });
    expect(errors).toEqual(['a: plain string', 'b: unprintable error']);
  });

  it('survives a logger that throws', async () => {
    setDiagnosticLogger({
      warn() {
        throw new Error('logger down');
      },
      error() {
        throw new Error('logger down');
      },
    });
    expect(() =>
      guarded('x', () => {
        throw new Error('boom');
      }),
    ).not.toThrow();
    guarded('y', () => Promise.reject(new Error('later')));
    expect(() => reportWarning('w')).not.toThrow();
    expect(() => reportError('e', new Error('e'))).not.toThrow();
    await nextTurn(); // no unhandled rejection from the async report either
  });
});

describe('guardedValue', () => {
  it('returns the value, or the fallback with a report', () => {
    expect(guardedValue('v', () => 42, 0)).toBe(42);
    expect(
      guardedValue(
        'v',
        () => {
          throw new Error('nope');
        },
        7,
      ),
    ).toBe(7);
    expect(errors).toEqual(['v: nope']);
  });
});

describe('settleWithin', () => {
  it('resolves when the work settles and clears its timer', async () => {
    vi.useFakeTimers();
    let done = false;
    const settled = settleWithin('work', () => Promise.resolve('x'), 1_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(0);
    await settled;
    expect(done).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('reports a rejection or a throw instead of rethrowing', async () => {
    await expect(
      settleWithin('rejects', () => Promise.reject(new Error('r')), 1_000),
    ).resolves.toBeUndefined();
    await expect(
      settleWithin(
        'throws',
        () => {
          throw new Error('t');
        },
        1_000,
      ),
    ).resolves.toBeUndefined();
    expect(errors).toEqual(['rejects: r', 'throws: t']);
  });

  it('gives up after ms with one warning when the work never settles', async () => {
    vi.useFakeTimers();
    let done = false;
    void settleWithin('stuck sink', () => new Promise<void>(() => {}), 1_000).then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(warnings).toEqual(['stuck sink did not settle within 1000 ms; gave up']);
  });

  it('runs the work on a later microtask, never in the caller stack', async () => {
    let ran = false;
    const settled = settleWithin('later', () => void (ran = true), 1_000);
    expect(ran).toBe(false);
    await settled;
    expect(ran).toBe(true);
  });
});

describe('the logger', () => {
  it('setDiagnosticLogger replaces it; undefined restores stderr', () => {
    const custom = { warn() {}, error() {} };
    setDiagnosticLogger(custom);
    expect(diagnostics()).toBe(custom);
    setDiagnosticLogger(undefined);
    expect(diagnostics()).toBe(stderrLogger);
  });

  it('stderrLogger writes prefixed lines to stderr, never stdout', () => {
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.stubEnv('MCP_OTEL_LOG_LEVEL', '');
    setDiagnosticLogger(undefined);
    reportWarning('queue full');
    reportError('sink x', new Error('boom'));
    expect(stderr.mock.calls.map((call) => call[0])).toEqual([
      '[mcp-otel] warn: queue full\n',
      '[mcp-otel] error: sink x: boom\n',
    ]);
    expect(stdout).not.toHaveBeenCalled();
  });

  it('MCP_OTEL_LOG_LEVEL=none silences it; =error keeps only errors', () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    vi.stubEnv('MCP_OTEL_LOG_LEVEL', 'none');
    stderrLogger.warn('w');
    stderrLogger.error('e');
    expect(stderr).not.toHaveBeenCalled();
    vi.stubEnv('MCP_OTEL_LOG_LEVEL', 'error');
    stderrLogger.warn('w');
    stderrLogger.error('e');
    expect(stderr.mock.calls.map((call) => call[0])).toEqual(['[mcp-otel] error: e\n']);
  });

  it('a closed stderr is swallowed', () => {
    vi.spyOn(process.stderr, 'write').mockImplementation(() => {
      throw new Error('EPIPE');
    });
    vi.stubEnv('MCP_OTEL_LOG_LEVEL', '');
    expect(() => stderrLogger.error('e')).not.toThrow();
  });
});

describe('printable', () => {
  it('prints what String() prints and never throws', () => {
    expect(printable(42)).toBe('42');
    expect(printable(undefined)).toBe('undefined');
    expect(printable(Symbol('s'))).toBe('Symbol(s)');
    expect(printable(Object.create(null))).toBe('[unprintable object]');
    expect(
      printable({
        toString() {
          throw new Error('no');
        },
      }),
    ).toBe('[unprintable object]');
  });
});

/**
 * Diagnostics: the one place mcp-otel reports its own trouble. Never stdout (stdio transports
 * own it), never a throw into the host.
 */

/** Where mcp-otel reports its own problems (a failing sink, dropped events, bad options). */
export interface DiagnosticLogger {
  warn(message: string): void;
  error(message: string): void;
}

const PREFIX = '[mcp-otel] ';

/** Writes to stderr; silenced by `MCP_OTEL_LOG_LEVEL=none`. */
export const stderrLogger: DiagnosticLogger = {
  warn(message) {
    writeStderr('warn', message);
  },
  error(message) {
    writeStderr('error', message);
  },
};

function writeStderr(level: 'warn' | 'error', message: string): void {
  const configured = process.env.MCP_OTEL_LOG_LEVEL;
  if (configured === 'none' || (configured === 'error' && level === 'warn')) return;
  try {
    process.stderr.write(`${PREFIX}${level}: ${message}\n`);
  } catch {
    // stderr closed: nowhere left to report to.
  }
}

let currentLogger: DiagnosticLogger = stderrLogger;

/** Replaces the process-wide diagnostic logger (e.g. with one that forwards to OTel `diag`). */
export function setDiagnosticLogger(logger: DiagnosticLogger | undefined): void {
  currentLogger = logger ?? stderrLogger;
}

/** The logger in force. */
export function diagnostics(): DiagnosticLogger {
  return currentLogger;
}

/** Reports an error without ever throwing, whatever the logger does. */
export function reportError(context: string, error: unknown): void {
  try {
    currentLogger.error(`${context}: ${describeError(error)}`);
  } catch {
    // A logger that throws has nowhere to report to.
  }
}

/** Reports a warning without ever throwing. */
export function reportWarning(message: string): void {
  try {
    currentLogger.warn(message);
  } catch {
    // as above
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  try {
    return String(error);
  } catch {
    return 'unprintable error';
  }
}

/**
 * `String(value)` for a diagnostic message, which never throws: a null-prototype object, or one
 * whose `toString` throws, must not turn a warning about a bad option into a throw.
 */
export function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `[unprintable ${typeof value}]`;
  }
}

/**
 * Calls `fn` and contains whatever it does: a throw, or a returned promise that rejects. Every
 * sink call and every user hook goes through here.
 */
export function guarded(context: string, fn: () => unknown): void {
  try {
    const result = fn();
    if (isThenable(result)) {
      result.then(undefined, (error: unknown) => reportError(context, error));
    }
  } catch (error) {
    reportError(context, error);
  }
}

/** Calls `fn` and returns its result, or `fallback` when it throws (reported once per call). */
export function guardedValue<T>(context: string, fn: () => T, fallback: T): T {
  try {
    return fn();
  } catch (error) {
    reportError(context, error);
    return fallback;
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Awaits `work` for at most `ms`, then gives up (the timer is unref'd, so it never holds the
 * process open). Rejections are reported, never rethrown.
 */
export async function settleWithin(
  context: string,
  work: () => unknown,
  ms: number,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  try {
    const outcome = await Promise.race([
      Promise.resolve()
        .then(work)
        .then(() => 'done' as const),
      timeout,
    ]);
    if (outcome === 'timeout') reportWarning(`${context} did not settle within ${ms} ms; gave up`);
  } catch (error) {
    reportError(context, error);
  } finally {
    clearTimeout(timer);
  }
}

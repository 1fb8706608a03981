import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { reportError, reportWarning } from '../diagnostics.js';
import { instrumentConnection } from '../instrument.js';
import type { SdkModule } from './locate-sdk.js';

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** On a prototype whose `connect` we replaced; Symbol.for, so two copies of mcp-otel agree. */
const PATCHED = Symbol.for('mcp-otel.register.patched');
// The marks instrument() and instrumentTransport() leave (src/instrument.ts,
// src/transport/instrument-transport.ts): an explicit call wins over register.
const INSTRUMENTED_TARGET = Symbol.for('mcp-otel.instrumented-target');
const INSTRUMENTED_TRANSPORT = Symbol.for('mcp-otel.instrumented');

/**
 * Loads the CommonJS entries among `modules` (synchronously, with the app's own require, so the
 * app gets the patched module from require's cache) and patches their classes' `connect()`.
 */
export function patchCommonJs(modules: readonly SdkModule[]): void {
  for (const module of modules) {
    if (module.format !== 'cjs') continue;
    let exports: unknown;
    try {
      exports = createRequire(module.file)(module.file);
    } catch (error) {
      reportError(`register: loading ${module.file} (not instrumented)`, error);
      continue;
    }
    patchExports(exports, module);
  }
}

/**
 * Loads the ES module entries among `modules` by URL (the URL the app's own import resolves to,
 * so it is the same module instance) and patches their classes' `connect()`.
 */
export async function patchEsm(modules: readonly SdkModule[]): Promise<void> {
  for (const module of modules) {
    if (module.format !== 'esm') continue;
    let namespace: unknown;
    try {
      namespace = await import(pathToFileURL(module.file).href);
    } catch (error) {
      reportError(`register: loading ${module.file} (not instrumented)`, error);
      continue;
    }
    patchExports(namespace, module);
  }
}

function patchExports(exports: unknown, module: SdkModule): void {
  let patched = 0;
  for (const name of module.classes) {
    const value = exportNamed(exports, name);
    if (typeof value === 'function' && patchConnect(value.prototype)) patched += 1;
  }
  if (patched === 0) {
    reportWarning(
      `register: ${module.packageName} (${module.file}) has no ${module.classes.join(' or ')} with connect(); this copy is not instrumented`,
    );
  }
}

/** A named export; an import() of a CommonJS file may only offer it on `default`. */
function exportNamed(exports: unknown, name: string): unknown {
  if (exports === null || typeof exports !== 'object') return undefined;
  const record = exports as Record<string, unknown>;
  if (record[name] !== undefined) return record[name];
  const fallback = record.default;
  return fallback !== null && typeof fallback === 'object'
    ? (fallback as Record<string, unknown>)[name]
    : undefined;
}

/**
 * Replaces `prototype.connect` with one that instruments the transport in place, then runs the
 * original with the same arguments. Per call rather than per instance (as instrument() does),
 * so a subclass that overrides connect() and calls super.connect() runs its own code once, and
 * the nested call of a patched subclass (v2 Client.connect → Protocol.connect) is a no-op:
 * instrumenting a transport is idempotent.
 */
function patchConnect(prototype: unknown): boolean {
  if (prototype === null || typeof prototype !== 'object') return false;
  const target = prototype as Record<PropertyKey, unknown>;
  if (target[PATCHED] === true) return true;
  const descriptor = Object.getOwnPropertyDescriptor(target, 'connect');
  if (!descriptor || typeof descriptor.value !== 'function') return false;
  const original = descriptor.value as Method;
  try {
    Object.defineProperty(target, 'connect', {
      ...descriptor,
      value: function connect(this: unknown, transport: unknown, ...rest: unknown[]): unknown {
        return original.call(this, observe(this, transport), ...rest);
      },
    });
    Object.defineProperty(target, PATCHED, { value: true });
  } catch (error) {
    reportError('register: patching connect() (not instrumented)', error);
    return false;
  }
  return true;
}

/**
 * What instrument()'s connect() does for each transport (the same function): the process-wide
 * bus with its sinks (with none given, the OpenTelemetry sink from the OTEL_* environment, named
 * after the server). A server the app instrumented itself is left to that.
 */
function observe(protocol: unknown, transport: unknown): unknown {
  try {
    if (hasMark(transport, INSTRUMENTED_TRANSPORT) || hasMark(protocol, INSTRUMENTED_TARGET)) {
      return transport;
    }
    instrumentConnection(protocol, transport);
  } catch (error) {
    reportError('register: instrumenting a connection (left as it was)', error);
  }
  return transport;
}

function hasMark(value: unknown, mark: symbol): boolean {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as Record<PropertyKey, unknown>)[mark] === true
  );
}

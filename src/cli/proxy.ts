/**
 * `mcp-otel proxy --upstream <url>`: a reverse proxy in front of a Streamable HTTP (or legacy
 * HTTP+SSE) MCP server, observing every message with the same middleware as in-process
 * instrumentation. See proxy-server.ts for sessions and exchanges.
 *
 * Security: binds 127.0.0.1 unless told otherwise, and refuses a non-loopback address that was
 * not given explicitly with `--host`; on a loopback address it answers only requests naming a
 * loopback host (DNS rebinding). Headers are forwarded, never recorded: no event, span or log
 * line carries them. Redirects are never followed; one off the upstream's origin becomes a 502.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reportWarning } from '../diagnostics.js';
import { UsageError, type CliOptions } from './args.js';
import { isLoopbackName, ProxyServer } from './proxy-server.js';
import { createCliTelemetry, type CliTelemetry } from './telemetry.js';

/** How long telemetry may take to get out after SIGINT/SIGTERM. */
export const PROXY_SHUTDOWN_FLUSH_MS = 2_000;
/** How long `close()` waits for connections to end before it stops waiting. */
const CLOSE_TIMEOUT_MS = 2_000;

/** What {@link startProxy} needs. */
export interface ProxyOptions {
  /** The upstream MCP endpoint (http or https). */
  readonly upstream: string;
  /** Port to listen on; 0 picks a free one. */
  readonly port: number;
  /** Address to bind. */
  readonly host: string;
  /** Whether the address was given explicitly (required for a non-loopback one). */
  readonly hostGiven: boolean;
  /** The bus and sinks to instrument onto (the caller shuts them down). */
  readonly telemetry: CliTelemetry;
}

/** A running proxy. */
export interface RunningProxy {
  /** The URL clients connect to: the proxy's origin with the upstream's path. */
  readonly url: URL;
  /** Open sessions (Streamable HTTP and legacy SSE). */
  readonly sessionCount: number;
  /** Stops accepting, ends every session and request in flight, closes connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Whether the proxy may bind `host`: loopback always; anything else only when given
 * explicitly, and then with a warning (anyone who reaches it reaches the upstream through it).
 */
export function checkBindAddress(
  host: string,
  hostGiven: boolean,
):
  | { readonly ok: true; readonly warning?: string }
  | { readonly ok: false; readonly error: string } {
  if (isLoopbackName(host)) return { ok: true };
  if (!hostGiven) {
    return {
      ok: false,
      error: `refusing to listen on non-loopback address ${host}: pass --host ${host} explicitly`,
    };
  }
  return {
    ok: true,
    warning: `listening on non-loopback address ${host}: anyone who can reach it can use the upstream through it`,
  };
}

/**
 * Starts the proxy and resolves once it listens. Throws {@link UsageError} for a bind address
 * it refuses or a bad upstream URL.
 *
 * @example
 * const proxy = await startProxy({ upstream: 'http://127.0.0.1:3000/mcp', port: 0,
 *   host: '127.0.0.1', hostGiven: false, telemetry });
 * // point an MCP client at proxy.url, then:
 * await proxy.close();
 */
export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const check = checkBindAddress(options.host, options.hostGiven);
  if (!check.ok) throw new UsageError(check.error);
  let upstream: URL;
  try {
    upstream = new URL(options.upstream);
  } catch {
    throw new UsageError(`--upstream must be an http(s) URL, got '${options.upstream}'`);
  }
  if (upstream.protocol !== 'http:' && upstream.protocol !== 'https:') {
    throw new UsageError(`--upstream must be an http(s) URL, got '${options.upstream}'`);
  }
  if (check.warning) reportWarning(check.warning);

  const proxy = new ProxyServer({
    upstream,
    telemetry: options.telemetry,
    loopbackOnly: isLoopbackName(options.host),
  });
  const server = createServer(proxy.handle);
  server.listen(options.port, options.host);
  // Rejects with the server's 'error' (EADDRINUSE, EACCES) instead.
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  proxy.origin = `http://${host}:${address.port}`;
  const url = new URL(upstream.pathname, proxy.origin);

  let closing: Promise<void> | undefined;
  return {
    url,
    get sessionCount() {
      return proxy.sessionCount;
    },
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        proxy.close();
        server.closeAllConnections();
        await Promise.race([closed, delay(CLOSE_TIMEOUT_MS)]);
      })();
      return closing;
    },
  };
}

/**
 * `mcp-otel proxy`: runs until SIGINT or SIGTERM (or `until` settles, for tests), then ends
 * every session, gets telemetry out within {@link PROXY_SHUTDOWN_FLUSH_MS}, and resolves with
 * the exit code.
 */
export async function runProxy(options: CliOptions, until?: Promise<unknown>): Promise<number> {
  if (options.upstream === undefined) {
    process.stderr.write('mcp-otel: proxy needs --upstream <url>\n');
    return 2;
  }
  const telemetry = createCliTelemetry(options);
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({
      upstream: options.upstream,
      port: options.port,
      host: options.host,
      hostGiven: options.hostGiven,
      telemetry,
    });
  } catch (error) {
    process.stderr.write(`mcp-otel: ${listenError(error, options)}\n`);
    await Promise.race([telemetry.bus.shutdown(), delay(PROXY_SHUTDOWN_FLUSH_MS)]);
    return error instanceof UsageError ? 2 : 1;
  }
  const stop = until ?? terminationSignal();
  process.stderr.write(
    `mcp-otel: proxy listening on ${proxy.url.href} → ${shown(options.upstream)}\n`,
  );
  await stop;
  await proxy.close();
  await Promise.race([telemetry.bus.shutdown(), delay(PROXY_SHUTDOWN_FLUSH_MS)]);
  return 0;
}

/** Resolves on the first SIGINT or SIGTERM (and stops listening for them). */
function terminationSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (signal: NodeJS.Signals): void => {
      process.removeListener('SIGINT', on);
      process.removeListener('SIGTERM', on);
      resolve(signal);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

function listenError(error: unknown, options: CliOptions): string {
  if (error instanceof UsageError) return error.message;
  const code = (error as { code?: unknown } | undefined)?.code;
  if (code === 'EADDRINUSE') return `port ${options.port} on ${options.host} is already in use`;
  return `could not listen on ${options.host}:${options.port}: ${error instanceof Error ? error.message : String(error)}`;
}

/** The upstream as printed: no credentials, no query (either may hold a secret). */
function shown(upstream: string): string {
  try {
    const url = new URL(upstream);
    return url.origin + url.pathname;
  } catch {
    return 'the upstream';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * The proxy's side facing the upstream: where a request goes, which headers travel, and the
 * HTTP request itself. Plain `node:http`/`node:https` rather than `fetch`: no automatic
 * decompression (the bytes the client gets are the upstream's), no body timeout that would cut
 * an idle SSE stream, redirects never followed, and an agent the proxy can close.
 */
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type {
  ClientRequest,
  IncomingHttpHeaders,
  IncomingMessage,
  OutgoingHttpHeaders,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/**
 * Connection-level headers (RFC 9110 §7.6.1) and those the proxy sets itself. `host` is the
 * upstream's; `content-length` is recomputed (a forwarded body may carry trace context).
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
  'expect',
  'http2-settings',
]);

/**
 * Where a request to the proxy goes: the upstream's origin, with the path and query the client
 * asked for. Only the path and query of the client's request target are used, so no request
 * (`//other.host/x`, an absolute-form target) can point the proxy at another host. A request
 * for the upstream's own path without a query of its own gets the upstream's query.
 */
export function upstreamUrlFor(requestTarget: string, upstream: URL): URL {
  const asked = new URL(requestTarget, 'http://proxy.invalid');
  const target = new URL(upstream.origin);
  target.pathname = asked.pathname;
  target.search =
    asked.search === '' && asked.pathname === upstream.pathname ? upstream.search : asked.search;
  return target;
}

/** The client's request headers as the upstream should get them. */
export function forwardedRequestHeaders(
  headers: IncomingHttpHeaders,
  bodyLength: number | undefined,
): OutgoingHttpHeaders {
  const named = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  // Observing the response needs its bytes as they are: ask for them uncompressed.
  out['accept-encoding'] = 'identity';
  if (bodyLength !== undefined) out['content-length'] = String(bodyLength);
  return out;
}

/**
 * The upstream's response headers as the client should get them. A `Location` on the
 * upstream's origin is rewritten to the proxy's, so a same-origin redirect keeps the client
 * behind the proxy. `content-length` is dropped when the body may be rewritten.
 */
export function forwardedResponseHeaders(
  headers: IncomingHttpHeaders,
  upstream: URL,
  proxyOrigin: string,
  options: { readonly keepLength: boolean },
): OutgoingHttpHeaders {
  const named = connectionTokens(headers.connection);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || named.has(name)) continue;
    if (HOP_BY_HOP.has(name) && !(name === 'content-length' && options.keepLength)) continue;
    out[name] = value;
  }
  const location = headers.location;
  if (typeof location === 'string') {
    const target = resolve(location, upstream);
    if (target?.origin === upstream.origin) {
      out.location = proxyOrigin + target.pathname + target.search + target.hash;
    }
  }
  return out;
}

/** Whether a redirect response points off the upstream's origin (never followed, never passed on). */
export function redirectsOffOrigin(response: IncomingMessage, upstream: URL): boolean {
  const status = response.statusCode ?? 0;
  if (status < 300 || status >= 400) return false;
  const location = response.headers.location;
  if (typeof location !== 'string') return false;
  return resolve(location, upstream)?.origin !== upstream.origin;
}

function resolve(location: string, base: URL): URL | undefined {
  try {
    return new URL(location, base);
  } catch {
    return undefined;
  }
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const tokens = new Set<string>();
  for (const part of [value ?? []].flat()) {
    for (const token of part.split(',')) {
      const name = token.trim().toLowerCase();
      if (name) tokens.add(name);
    }
  }
  return tokens;
}

/** One request in flight to the upstream. */
export interface UpstreamCall {
  /** Resolves with the response once its headers arrived; rejects when it cannot be had. */
  readonly response: Promise<IncomingMessage>;
  /** Abandons the request (the client went away, or the proxy is closing). */
  abort(): void;
}

/** Keep-alive agents for the upstream, closed with the proxy. */
export class UpstreamClient {
  private readonly http = new HttpAgent({ keepAlive: true });
  private readonly https = new HttpsAgent({ keepAlive: true });

  request(
    url: URL,
    method: string,
    headers: OutgoingHttpHeaders,
    body: Buffer | undefined,
  ): UpstreamCall {
    const secure = url.protocol === 'https:';
    let request: ClientRequest | undefined;
    const response = new Promise<IncomingMessage>((resolvePromise, reject) => {
      request = (secure ? httpsRequest : httpRequest)(url, {
        method,
        headers,
        agent: secure ? this.https : this.http,
      });
      request.once('response', resolvePromise);
      // `on`, not `once`: a later error (the socket reset mid-body) must find a listener too.
      request.on('error', reject);
      request.end(body);
    });
    return {
      response,
      abort: () => {
        request?.destroy();
      },
    };
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

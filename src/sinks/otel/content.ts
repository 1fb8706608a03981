import { reportError } from '../../diagnostics.js';

/** What a redaction hook is told about the content it sees. */
export interface RedactContext {
  /** `arguments` of a tools/call, `result` of one, or a schema `payload`. */
  readonly kind: 'arguments' | 'result' | 'payload';
  readonly mcpMethod: string;
  readonly tool: string | undefined;
  /** `server`: we received the request; `client`: we sent it. */
  readonly role: 'server' | 'client';
}

/**
 * A hook that sees content attributes after the built-in redaction, last. Return the attributes
 * to record (or mutate and return nothing); return `{}` to record none. If it throws, no content
 * is recorded for that span.
 */
export type RedactHook = (
  attributes: Record<string, string>,
  context: RedactContext,
) => Record<string, string> | void;

/** Value written in place of a denylisted key's value. */
export const REDACTED = '[REDACTED]';

/**
 * Key names whose values are never recorded, matched case-insensitively after dropping `-`, `_`
 * and `.`, when the key equals one or ends with one (`x-api-key`, `accessToken`, `db_password`).
 */
export const DEFAULT_REDACTED_KEYS: readonly string[] = [
  'password',
  'passwd',
  'pwd',
  'secret',
  'token',
  'authorization',
  'auth',
  'apikey',
  'accesskey',
  'privatekey',
  'credential',
  'credentials',
  'cookie',
  'sessionid',
  'bearer',
  'signature',
];

const MAX_DEPTH = 64;
const TRUNCATED = '…[truncated]';

/** Builds the function that turns a content value into a capped, redacted JSON string. */
export function createContentSerializer(
  extraKeys: readonly string[],
  maxBytes: number,
): (value: unknown) => string | undefined {
  const terms = [...DEFAULT_REDACTED_KEYS, ...extraKeys.map(normalise)];
  const denied = (key: string): boolean => {
    const k = normalise(key);
    for (const term of terms) if (k === term || k.endsWith(term)) return true;
    return false;
  };
  const clean = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (depth >= MAX_DEPTH || seen.has(value)) return '[…]';
    seen.add(value);
    if (Array.isArray(value)) return value.map((item) => clean(item, depth + 1, seen));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      Object.defineProperty(out, key, {
        value: denied(key) ? REDACTED : clean(item, depth + 1, seen),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  };
  return (value) => {
    if (value === undefined) return undefined;
    try {
      const text = JSON.stringify(clean(value, 0, new WeakSet()));
      return text === undefined ? undefined : capUtf8(text, maxBytes);
    } catch (error) {
      reportError('serialising captured content', error);
      return undefined;
    }
  };
}

function normalise(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, '');
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes (on a character boundary), marking the cut. */
export function capUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes || Buffer.byteLength(text) <= maxBytes) return text;
  const budget = Math.max(0, maxBytes - Buffer.byteLength(TRUNCATED));
  let bytes = 0;
  let i = 0;
  while (i < text.length) {
    const code = text.codePointAt(i) ?? 0;
    const size = code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
    if (bytes + size > budget) break;
    bytes += size;
    i += code >= 0x10000 ? 2 : 1;
  }
  return text.slice(0, i) + TRUNCATED;
}

/** Runs the user's hook, contained: a throw records nothing. */
export function applyRedactHook(
  hook: RedactHook | undefined,
  attributes: Record<string, string>,
  context: RedactContext,
): Record<string, string> {
  if (!hook) return attributes;
  try {
    const result = hook(attributes, context);
    const out = result ?? attributes;
    const safe: Record<string, string> = {};
    for (const [key, value] of Object.entries(out)) {
      if (typeof value === 'string') safe[key] = value;
    }
    return safe;
  } catch (error) {
    reportError('redact hook (content not recorded)', error);
    return {};
  }
}

import { createHash } from 'node:crypto';
import type {
  RequestRole,
  SchemaChanges,
  SchemaMethod,
  SchemaVersionCreatedEvent,
} from '../events.js';
import { canonicalJson } from './canonical-json.js';

/** How long a started pagination may wait for its next page before its pages are dropped. */
export const PAGINATION_TTL_MS = 60_000;
/** Most pages merged into one listing; a server that never stops paginating cannot grow us. */
export const MAX_PAGES = 1_000;
/** Most concurrent paginations buffered at once (sessions × methods), oldest evicted beyond. */
export const MAX_OPEN_PAGINATIONS = 10_000;

interface MethodSpec {
  /** Result field holding the items. */
  readonly field: string;
  /** Item field that names it (for `changes`). */
  readonly key: string;
  /** Fields of an item that make its contract; descriptions and annotations are not. */
  readonly contract: readonly string[];
  /**
   * The contract fields the unchanged check compares: all but the key, which it has already
   * matched as a string (the same string is the same JSON).
   */
  readonly compared: readonly string[];
}

function methodSpec(field: string, key: string, contract: readonly string[]): MethodSpec {
  return { field, key, contract, compared: contract.filter((name) => name !== key) };
}

const SPECS: Readonly<Record<SchemaMethod, MethodSpec>> = {
  'tools/list': methodSpec('tools', 'name', ['name', 'inputSchema', 'outputSchema']),
  'prompts/list': methodSpec('prompts', 'name', ['name', 'arguments']),
  'resources/list': methodSpec('resources', 'uri', ['name', 'uri']),
  'resources/templates/list': methodSpec('resourceTemplates', 'uriTemplate', [
    'name',
    'uriTemplate',
  ]),
};

const LIST_CHANGED: Readonly<Record<string, readonly SchemaMethod[]>> = {
  'notifications/tools/list_changed': ['tools/list'],
  'notifications/prompts/list_changed': ['prompts/list'],
  'notifications/resources/list_changed': ['resources/list', 'resources/templates/list'],
};

/** Whether `method` is one of the list methods the tracker versions. */
export function isSchemaMethod(method: string): method is SchemaMethod {
  return Object.hasOwn(SPECS, method);
}

/** The list methods a `notifications/.../list_changed` makes stale, if it is one. */
export function staleMethodsFor(notification: string): readonly SchemaMethod[] | undefined {
  // Own keys only: a peer's method name such as `toString` must not resolve up the prototype.
  return Object.hasOwn(LIST_CHANGED, notification) ? LIST_CHANGED[notification] : undefined;
}

interface Version {
  readonly version: number;
  readonly contentHash: string;
  /** Item key → canonical contract JSON, to diff the next version against. */
  readonly items: ReadonlyMap<string, string>;
  /** Copies of the contracts, for the unchanged fast path (see {@link sameContracts}). */
  readonly copies: ContractCopies;
}

interface Pagination {
  readonly items: unknown[];
  pages: number;
  /** performance.now() of the last page. */
  touched: number;
  /** The first page's result without its item list, kept for the merged payload. */
  readonly head: Record<string, unknown>;
}

/** One page of a list result, as the middleware saw it. */
export interface ListPage {
  readonly server: string;
  /** Buffers pagination per scope (the session, or the connection when there is none). */
  readonly scope: string;
  readonly sessionId?: string;
  readonly method: SchemaMethod;
  /** `params.cursor` of the request: absent on the first page. */
  readonly requestCursor: unknown;
  readonly result: unknown;
  readonly jsonrpcId?: string;
  readonly role: RequestRole;
  /** performance.now() of the response. */
  readonly now: number;
}

/**
 * Versions the contract of list results. Pages are merged per (scope, method) so concurrent
 * paginations of two sessions never mix; a listing is hashed over its contract fields only,
 * items sorted by key, so reordering and description edits do not create phantom versions.
 */
export class SchemaTracker {
  private readonly versions = new Map<string, Version>();
  private readonly paginations = new Map<string, Pagination>();

  /**
   * Takes one page; returns the event when the completed listing's contract differs from the
   * last version of (server, method).
   */
  observe(page: ListPage): SchemaVersionCreatedEvent | undefined {
    const spec = SPECS[page.method];
    const result = page.result;
    if (result === null || typeof result !== 'object') return undefined;
    const record = result as Record<string, unknown>;
    const items = record[spec.field];
    if (!Array.isArray(items)) return undefined;

    const pagingKey = `${page.scope}\u0000${page.method}`;
    const nextCursor = record.nextCursor;
    let merged: unknown[];
    let head: Record<string, unknown>;
    if (page.requestCursor === undefined || page.requestCursor === null) {
      // A first page starts over, even if an earlier pagination of this scope was abandoned.
      this.paginations.delete(pagingKey);
      merged = items;
      head = record;
    } else {
      const open = this.paginations.get(pagingKey);
      if (!open) return undefined; // continuation of a listing we did not see start
      // A loop, not push(...items): spreading a page of ~125k+ items overflows the call stack.
      for (const item of items) open.items.push(item);
      open.pages++;
      open.touched = page.now;
      merged = open.items;
      head = open.head;
      if (open.pages > MAX_PAGES) {
        this.paginations.delete(pagingKey);
        return undefined;
      }
    }
    if (typeof nextCursor === 'string' || typeof nextCursor === 'number') {
      if (!this.paginations.has(pagingKey)) {
        this.evictIfFull();
        this.paginations.set(pagingKey, { items: [...merged], pages: 1, touched: page.now, head });
      }
      return undefined;
    }
    this.paginations.delete(pagingKey);
    return this.version(page, spec, merged, head);
  }

  /**
   * A `list_changed` notification marks the methods it names stale in `scope`: a pagination
   * open there mixes pages from before and after the change, so its pages are dropped (the
   * next first page starts a clean listing). Every completed listing is hashed and compared
   * anyway, so no other state is needed.
   */
  markStale(scope: string, notification: string): void {
    const methods = staleMethodsFor(notification);
    if (!methods) return;
    for (const method of methods) this.paginations.delete(`${scope}\u0000${method}`);
  }

  /** Drops paginations idle longer than {@link PAGINATION_TTL_MS}. */
  sweep(now: number): void {
    for (const [key, open] of this.paginations) {
      if (now - open.touched > PAGINATION_TTL_MS) this.paginations.delete(key);
    }
  }

  /** Drops the pagination buffers of one scope (its session or connection ended). */
  forgetScope(scope: string): void {
    for (const method of Object.keys(SPECS)) this.paginations.delete(`${scope}\u0000${method}`);
  }

  /** Open paginations (for tests and the soak's leak checks). */
  get openPaginations(): number {
    return this.paginations.size;
  }

  private evictIfFull(): void {
    if (this.paginations.size < MAX_OPEN_PAGINATIONS) return;
    const oldest = this.paginations.keys().next();
    if (!oldest.done) this.paginations.delete(oldest.value);
  }

  private version(
    page: ListPage,
    spec: MethodSpec,
    items: readonly unknown[],
    head: Record<string, unknown>,
  ): SchemaVersionCreatedEvent | undefined {
    const versionKey = `${page.server}\u0000${page.method}`;
    const previous = this.versions.get(versionKey);
    // Most listings repeat the last version: comparing each item's contract fields with a copy
    // of the last version's tells that without serialising, canonicalising or hashing anything
    // (and without reading descriptions at all). Any doubt takes the full path below.
    if (previous && sameContracts(items, spec, previous.copies)) return undefined;
    const contracts = new Map<string, string>();
    for (const item of items) {
      if (item === null || typeof item !== 'object') continue;
      const source = item as Record<string, unknown>;
      const name = source[spec.key];
      const key = typeof name === 'string' ? name : canonicalJson(name);
      const contract: Record<string, unknown> = {};
      for (const field of spec.contract) {
        if (source[field] !== undefined) contract[field] = source[field];
      }
      contracts.set(key, canonicalJson(contract));
    }
    const keys = [...contracts.keys()].sort();
    const hash = createHash('sha256');
    hash.update('[');
    keys.forEach((key, index) => {
      if (index > 0) hash.update(',');
      hash.update(contracts.get(key) ?? '');
    });
    hash.update(']');
    const contentHash = hash.digest('hex');

    if (previous && previous.contentHash === contentHash) return undefined;

    const version = (previous?.version ?? 0) + 1;
    this.versions.set(versionKey, {
      version,
      contentHash,
      items: contracts,
      copies: copyContracts(items, spec, contracts),
    });
    const payload: Record<string, unknown> = { ...head, [spec.field]: [...items] };
    delete payload.nextCursor;
    const event: SchemaVersionCreatedEvent = {
      type: 'schema_version_created',
      ts: Date.now(),
      server: page.server,
      method: page.method,
      version,
      versionId: contentHash.slice(0, 16),
      contentHash,
      payload,
      changes: previous ? diff(previous.items, contracts) : EMPTY_CHANGES,
      role: page.role,
      ...(page.sessionId !== undefined && { sessionId: page.sessionId }),
      ...(page.jsonrpcId !== undefined && { jsonrpcId: page.jsonrpcId }),
    };
    return event;
  }
}

const EMPTY_CHANGES: SchemaChanges = { added: [], removed: [], modified: [] };

function diff(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): SchemaChanges {
  const added: string[] = [];
  const removed: string[] = [];
  const modified: string[] = [];
  for (const [key, contract] of after) {
    const old = before.get(key);
    if (old === undefined) added.push(key);
    else if (old !== contract) modified.push(key);
  }
  for (const key of before.keys()) if (!after.has(key)) removed.push(key);
  return { added: added.sort(), removed: removed.sort(), modified: modified.sort() };
}

/**
 * A private copy of one item's contract for the unchanged fast path: parsed back from its
 * canonical JSON, every object in it carrying its key count under {@link KEY_COUNT}.
 */
interface ContractCopy {
  readonly name: string;
  /** The contract's fields in `MethodSpec.compared` order; undefined where it has none. */
  readonly fields: readonly unknown[];
  /** The check that last matched an item to it (a duplicate key matches twice). */
  matchedIn: number;
}

/** Key count of an object of a contract copy (a symbol: invisible to for-in and JSON). */
const KEY_COUNT = Symbol('keys');

/** The copy of a version's contracts: by key, and in the order of the listing that made it. */
interface ContractCopies {
  readonly byKey: ReadonlyMap<string, ContractCopy>;
  readonly ordered: readonly ContractCopy[];
}

function copyContracts(
  items: readonly unknown[],
  spec: MethodSpec,
  canonical: ReadonlyMap<string, string>,
): ContractCopies {
  const byKey = new Map<string, ContractCopy>();
  for (const [name, json] of canonical) {
    const contract = withKeyCounts(JSON.parse(json)) as Record<string, unknown>;
    // JSON never holds undefined: an absent field and only an absent one reads undefined.
    const fields = spec.compared.map((field) =>
      Object.hasOwn(contract, field) ? contract[field] : undefined,
    );
    byKey.set(name, { name, fields, matchedIn: 0 });
  }
  // Listing order, for the common case of a listing that repeats the last one item by item.
  const ordered: ContractCopy[] = [];
  for (const item of items) {
    const name = (item as Record<string, unknown> | null)?.[spec.key];
    const copy = typeof name === 'string' ? byKey.get(name) : undefined;
    if (copy) ordered.push(copy);
  }
  return { byKey, ordered };
}

function withKeyCounts(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (const item of value) withKeyCounts(item);
    return value;
  }
  const record = value as Record<string | symbol, unknown>;
  let count = 0;
  for (const key of Object.keys(record)) {
    withKeyCounts(record[key]);
    count++;
  }
  Object.defineProperty(record, KEY_COUNT, { value: count });
  return record;
}

let checks = 0;

/**
 * Whether every item of `items` has a contract deep-equal to the copy under its key, with no
 * item missing, extra or doubled. True only when the canonical contracts, and so the hash,
 * would be the same; anything unusual (a non-string key, `toJSON`, values JSON would drop or
 * rewrite) answers false and the caller takes the full path.
 */
function sameContracts(
  items: readonly unknown[],
  spec: MethodSpec,
  copies: ContractCopies,
): boolean {
  if (items.length !== copies.byKey.size) return false;
  const check = ++checks;
  // In order, item i is matched with the copy that was item i: no lookup.
  let inOrder = copies.ordered.length === items.length;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    if (item === null || typeof item !== 'object') return false;
    const source = item as Record<string, unknown>;
    const name = source[spec.key];
    if (typeof name !== 'string') return false;
    let copy = inOrder ? copies.ordered[i] : undefined;
    if (copy?.name !== name) {
      inOrder = false;
      copy = copies.byKey.get(name);
      if (copy === undefined) return false;
    }
    if (copy.matchedIn === check) return false; // a second item under one key
    copy.matchedIn = check;
    const fields = copy.fields;
    const names = spec.compared;
    for (let f = 0; f < names.length; f++) {
      const value = source[names[f] as string];
      const kept = fields[f];
      if (value === undefined ? kept !== undefined : !sameJson(value, kept, 0)) return false;
    }
  }
  return true;
}

// eslint-disable-next-line @typescript-eslint/unbound-method
const hasOwnProperty = Object.prototype.hasOwnProperty;

/** Deepest nesting compared; deeper values take the full path. */
const MAX_COMPARE_DEPTH = 64;

/**
 * Whether `value` serialises to the same canonical JSON as `copy`, a value parsed from JSON
 * (objects with their {@link KEY_COUNT}). Conservative: false for anything JSON.stringify would
 * drop, rewrite or call (undefined, functions, NaN, `toJSON`, inherited keys), so a true is
 * always right.
 */
function sameJson(value: unknown, copy: unknown, depth: number): boolean {
  if (value === copy) return typeof value !== 'object' || value === null;
  if (typeof value !== 'object' || value === null || typeof copy !== 'object' || copy === null) {
    return false;
  }
  if (depth > MAX_COMPARE_DEPTH) return false;
  if (Array.isArray(value)) {
    if (!Array.isArray(copy) || value.length !== copy.length) return false;
    for (let i = 0; i < value.length; i++) {
      if (!sameJson(value[i], copy[i], depth + 1)) return false;
    }
    return true;
  }
  if (Array.isArray(copy) || typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return false;
  }
  const record = value as Record<string, unknown>;
  const other = copy as Record<string | symbol, unknown>;
  let count = 0;
  // for-in without Object.keys' array; an inherited enumerable key, which JSON skips, is doubt.
  // A key the copy lacks reads undefined or what Object.prototype has (functions, or the
  // prototype itself, which has no KEY_COUNT): never the same, so no hasOwn on the copy.
  for (const key in record) {
    if (!hasOwnProperty.call(record, key) || !sameJson(record[key], other[key], depth + 1))
      return false;
    count++;
  }
  return count === other[KEY_COUNT];
}

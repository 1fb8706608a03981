import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/schema/canonical-json.js';
import {
  MAX_PAGES,
  PAGINATION_TTL_MS,
  SchemaTracker,
  isSchemaMethod,
  staleMethodsFor,
  type ListPage,
} from '../../src/schema/schema-tracker.js';

type Item = Record<string, unknown>;

function tool(name: string, properties: Item = {}, extra: Item = {}): Item {
  return {
    name,
    description: `the ${name} tool`,
    inputSchema: { type: 'object', properties },
    ...extra,
  };
}

function page(result: unknown, overrides: Partial<ListPage> = {}): ListPage {
  return {
    server: 'srv',
    scope: 'scope-1',
    sessionId: 'session-1',
    method: 'tools/list',
    requestCursor: undefined,
    result,
    jsonrpcId: '1',
    role: 'server',
    now: 1_000,
    ...overrides,
  };
}

const tools = (...items: Item[]): Item => ({ tools: items });
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('SchemaTracker versions', () => {
  it('creates version 1 with empty changes and the listing as payload', () => {
    const tracker = new SchemaTracker();
    const result = tools(tool('a', { x: { type: 'string' } }), tool('b'));
    const before = Date.now();
    const event = tracker.observe(page(result));
    expect(event).toMatchObject({
      type: 'schema_version_created',
      server: 'srv',
      sessionId: 'session-1',
      method: 'tools/list',
      version: 1,
      changes: { added: [], removed: [], modified: [] },
      jsonrpcId: '1',
      role: 'server',
      payload: result,
    });
    expect(event!.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(event!.versionId).toBe(event!.contentHash.slice(0, 16));
    expect(event!.ts).toBeGreaterThanOrEqual(before);
    expect(event!.ts).toBeLessThanOrEqual(Date.now());
  });

  it('omits sessionId and jsonrpcId when the page has none', () => {
    const event = new SchemaTracker().observe(
      page(tools(tool('a')), { sessionId: undefined, jsonrpcId: undefined, role: 'client' }),
    );
    expect(event).toBeDefined();
    expect('sessionId' in event!).toBe(false);
    expect('jsonrpcId' in event!).toBe(false);
    expect(event!.role).toBe('client');
  });

  it('hashes SHA-256 over the canonical JSON of the contract fields, items sorted by name', () => {
    const b = tool('b', { q: { type: 'number' } }, { outputSchema: { type: 'object' } });
    const a = tool('a', { x: { type: 'string' } }, { annotations: { readOnlyHint: true } });
    const event = new SchemaTracker().observe(page(tools(b, a)));
    const expected = sha256(
      canonicalJson([
        { name: 'a', inputSchema: a.inputSchema },
        { name: 'b', inputSchema: b.inputSchema, outputSchema: b.outputSchema },
      ]),
    );
    expect(event!.contentHash).toBe(expected);
    expect(event!.versionId).toBe(expected.slice(0, 16));
  });

  it('creates no version for the same listing seen again', () => {
    const tracker = new SchemaTracker();
    const result = tools(tool('a'), tool('b'));
    expect(tracker.observe(page(result))).toBeDefined();
    expect(tracker.observe(page(result))).toBeUndefined();
    expect(tracker.observe(page(structuredClone(result), { scope: 'scope-2' }))).toBeUndefined();
  });

  it('creates no phantom version for reordering, key order, descriptions or annotations', () => {
    const tracker = new SchemaTracker();
    tracker.observe(
      page(
        tools(
          tool('a', { x: { type: 'string', minLength: 1 } }),
          tool('b', {}, { title: 'B', annotations: { readOnlyHint: true } }),
        ),
      ),
    );
    const drifted = tools(
      {
        inputSchema: { properties: {}, type: 'object' },
        title: 'B, renamed',
        description: 'a new description',
        annotations: { readOnlyHint: false, openWorldHint: true },
        _meta: { build: 2 },
        icons: [{ src: 'https://example.com/b.png' }],
        name: 'b',
      },
      {
        description: 'also changed',
        name: 'a',
        inputSchema: { type: 'object', properties: { x: { minLength: 1, type: 'string' } } },
        outputSchema: undefined,
      },
    );
    expect(tracker.observe(page(drifted))).toBeUndefined();
  });

  it('creates version 2 with modified when an inputSchema changes', () => {
    const tracker = new SchemaTracker();
    const first = tracker.observe(page(tools(tool('a'), tool('b', { x: { type: 'string' } }))));
    const changed = tools(tool('a'), tool('b', { x: { type: 'number' } }));
    const second = tracker.observe(page(changed, { jsonrpcId: '2' }));
    expect(second).toMatchObject({
      version: 2,
      changes: { added: [], removed: [], modified: ['b'] },
      payload: changed,
      jsonrpcId: '2',
    });
    expect(second!.contentHash).not.toBe(first!.contentHash);
  });

  it('reports added, removed and outputSchema changes, sorted', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page(tools(tool('a'), tool('b'), tool('c'))));
    const event = tracker.observe(
      page(tools(tool('z'), tool('c', {}, { outputSchema: { type: 'object' } }), tool('d'))),
    );
    expect(event!.version).toBe(2);
    expect(event!.changes).toEqual({ added: ['d', 'z'], removed: ['a', 'b'], modified: ['c'] });
  });

  it('versions prompts by name and arguments', () => {
    const tracker = new SchemaTracker();
    const prompt = (args: Item[], description = 'd'): Item => ({
      name: 'greet',
      description,
      arguments: args,
    });
    const at = (result: Item): ListPage => page(result, { method: 'prompts/list' });
    const v1 = tracker.observe(at({ prompts: [prompt([{ name: 'who', required: true }])] }));
    expect(v1).toMatchObject({ method: 'prompts/list', version: 1 });
    expect(
      tracker.observe(at({ prompts: [prompt([{ required: true, name: 'who' }], 'new text')] })),
    ).toBeUndefined();
    const v2 = tracker.observe(at({ prompts: [prompt([{ name: 'who', required: false }])] }));
    expect(v2).toMatchObject({ version: 2, changes: { modified: ['greet'] } });
  });

  it('versions resources by uri and templates by uriTemplate', () => {
    const tracker = new SchemaTracker();
    const resources = (name: string, description: string): ListPage =>
      page(
        { resources: [{ uri: 'file:///a.txt', name, description, mimeType: 'text/plain' }] },
        { method: 'resources/list' },
      );
    expect(tracker.observe(resources('a', 'first'))!.version).toBe(1);
    expect(tracker.observe(resources('a', 'second'))).toBeUndefined();
    expect(tracker.observe(resources('renamed', 'second'))).toMatchObject({
      version: 2,
      changes: { modified: ['file:///a.txt'], added: [], removed: [] },
    });

    const templates = (uriTemplate: string): ListPage =>
      page(
        { resourceTemplates: [{ uriTemplate, name: 'user', description: String(Math.random()) }] },
        { method: 'resources/templates/list' },
      );
    expect(tracker.observe(templates('users://{id}'))).toMatchObject({
      method: 'resources/templates/list',
      version: 1,
    });
    expect(tracker.observe(templates('users://{id}'))).toBeUndefined();
    expect(tracker.observe(templates('people://{id}'))).toMatchObject({
      version: 2,
      changes: { added: ['people://{id}'], removed: ['users://{id}'], modified: [] },
    });
  });

  it('keeps versions monotonic per (server, method) and independent per server', () => {
    const tracker = new SchemaTracker();
    const seen: number[] = [];
    for (const n of [1, 2, 3]) {
      seen.push(tracker.observe(page(tools(tool(`t${n}`))))!.version);
    }
    expect(seen).toEqual([1, 2, 3]);
    expect(tracker.observe(page(tools(tool('t1'))))!.version).toBe(4); // back to an old contract
    expect(tracker.observe(page(tools(tool('t1')), { server: 'other' }))!.version).toBe(1);
    expect(
      tracker.observe(page({ prompts: [{ name: 'p' }] }, { method: 'prompts/list' }))!.version,
    ).toBe(1);
  });

  it('ignores results that are not listings', () => {
    const tracker = new SchemaTracker();
    expect(tracker.observe(page(null))).toBeUndefined();
    expect(tracker.observe(page('tools'))).toBeUndefined();
    expect(tracker.observe(page({ tools: 'not an array' }))).toBeUndefined();
    expect(tracker.observe(page({ prompts: [] }))).toBeUndefined(); // wrong field for tools/list
  });

  it('a __proto__ key hashes as a plain key and pollutes nothing', () => {
    const tracker = new SchemaTracker();
    const listing = (type: string): unknown =>
      JSON.parse(
        `{"__proto__":{"polluted":true},"tools":[{"name":"a","inputSchema":{"type":"object","properties":{"__proto__":{"type":"${type}"}}}}]}`,
      );
    const v1 = tracker.observe(page(listing('string')));
    expect(v1!.version).toBe(1);
    expect(tracker.observe(page(listing('string')))).toBeUndefined();
    const v2 = tracker.observe(page(listing('number')));
    expect(v2).toMatchObject({ version: 2, changes: { modified: ['a'] } });
    expect(v1!.contentHash).toBe(
      sha256(
        '[{"inputSchema":{"properties":{"__proto__":{"type":"string"}},"type":"object"},"name":"a"}]',
      ),
    );
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).type).toBeUndefined();
    expect(Object.getPrototypeOf(v1!.payload)).toBe(Object.prototype);
    expect(Object.hasOwn(v1!.payload, '__proto__')).toBe(true);
  });
});

describe('SchemaTracker unchanged fast path', () => {
  /** Values JSON rewrites, drops or calls, which a contract may hold. */
  const awkward = fc.constantFrom<unknown>(
    undefined,
    Number.NaN,
    -0,
    0,
    Number.POSITIVE_INFINITY,
    null,
    new Date(0),
    () => 1,
    { toJSON: () => 'x' },
    [undefined],
    Object.create(null) as unknown,
  );
  const schema: fc.Arbitrary<unknown> = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
    { weight: 1, arbitrary: awkward },
    {
      weight: 1,
      arbitrary: fc.dictionary(fc.constantFrom('__proto__', 'type', 'a'), awkward, {
        maxKeys: 3,
      }),
    },
  );
  const item = fc.record(
    {
      name: fc.constantFrom<unknown>('a', 'b', 'c', '__proto__', 'constructor', 7),
      description: fc.string(),
      inputSchema: schema,
      outputSchema: schema,
    },
    { requiredKeys: ['name'] },
  );
  /** The same listing with keys and items in another order, descriptions changed. */
  const reshuffled = (items: readonly Item[], seed: number): Item[] => {
    const copy = items.map((entry, i) => {
      const keys = Object.keys(entry);
      if ((seed + i) % 2 === 0) keys.reverse();
      const out: Item = {};
      for (const key of keys) out[key] = key === 'description' ? `changed ${seed}` : entry[key];
      return out;
    });
    return seed % 3 === 0 ? copy.reverse() : copy;
  };
  /** `value` with one leaf, picked by `seed`, changed (a copy; the original is left alone). */
  const perturbed = (value: unknown, seed: number): unknown => {
    if (Array.isArray(value)) {
      if (value.length === 0) return [1];
      const i = seed % value.length;
      return (value as unknown[]).map((entry, j) =>
        j === i ? perturbed(entry, Math.floor(seed / 2)) : entry,
      );
    }
    if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value);
      if (keys.length === 0) return { zz: 1 };
      const key = keys[seed % keys.length] ?? '';
      const out: Item = { ...(value as Item) };
      Object.defineProperty(out, key, {
        value: perturbed((value as Item)[key], Math.floor(seed / 2)),
        enumerable: true,
        writable: true,
        configurable: true,
      });
      return out;
    }
    if (typeof value === 'number') return Number.isFinite(value) ? value + 1 : 0;
    if (typeof value === 'string') return `${value}x`;
    if (typeof value === 'boolean') return !value;
    return value === null ? 0 : null;
  };
  /** A listing related to `items`: reordered, one schema changed deep, or one name doubled. */
  const related = (items: readonly Item[], seed: number, how: number): Item[] => {
    const copy = reshuffled(items, seed);
    if (copy.length === 0 || how === 0) return copy;
    const i = seed % copy.length;
    if (how === 1) {
      copy[i] = { ...copy[i], inputSchema: perturbed(copy[i]?.inputSchema, seed) };
    } else {
      copy[i] = { ...copy[(i + 1) % copy.length] };
    }
    return copy;
  };

  it('creates a version exactly when the canonical contract hash differs (property)', () => {
    fc.assert(
      fc.property(
        fc.array(item, { maxLength: 5 }),
        fc.array(item, { maxLength: 5 }),
        fc.integer({ min: 0, max: 1_000 }),
        fc.integer({ min: 0, max: 3 }),
        (first, other, seed, how) => {
          const second = how < 3 ? related(first, seed, how) : other;
          const tracker = new SchemaTracker();
          const v1 = tracker.observe(page(tools(...first)));
          const v2 = tracker.observe(page(tools(...second)));
          // What the second listing hashes to on its own, by the full path.
          const alone = new SchemaTracker().observe(page(tools(...second)));
          expect(v2 === undefined).toBe(alone?.contentHash === v1?.contentHash);
          if (v2) expect(v2.contentHash).toBe(alone?.contentHash);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('sees a change deep in a schema, a duplicate name and a missing item', () => {
    const tracker = new SchemaTracker();
    const deep = (minLength: number): Item =>
      tool('a', { x: { type: 'object', properties: { y: { type: 'string', minLength } } } });
    tracker.observe(page(tools(deep(1), tool('b'))));
    expect(tracker.observe(page(tools(deep(1), tool('b'))))).toBeUndefined();
    expect(tracker.observe(page(tools(deep(2), tool('b'))))?.changes.modified).toEqual(['a']);
    // Two items, both named a: b is gone although the count is the same.
    expect(tracker.observe(page(tools(deep(2), deep(2))))?.changes.removed).toEqual(['b']);
    expect(tracker.observe(page(tools(deep(2))))).toBeUndefined();
    // A key the copy lacks but Object.prototype answers for is a change, not a match.
    const plain = tools(tool('p', {}));
    tracker.observe(page(plain, { method: 'prompts/list' }));
    const base = new SchemaTracker();
    base.observe(page(plain));
    const withProto = JSON.parse(
      '{"tools":[{"name":"p","inputSchema":{"type":"object","properties":{},"__proto__":{}}}]}',
    ) as Item;
    expect(base.observe(page(withProto))?.changes.modified).toEqual(['p']);
    const inherited = tools({
      name: 'p',
      inputSchema: Object.assign(Object.create({ extra: 1 }) as Item, {
        type: 'object',
        properties: {},
      }),
    });
    const own = new SchemaTracker();
    own.observe(
      page(tools({ name: 'p', inputSchema: { type: 'object', properties: {}, extra: 1 } })),
    );
    // JSON skips an inherited key: the contract lost `extra`.
    expect(own.observe(page(inherited))?.changes.modified).toEqual(['p']);
  });
});

describe('SchemaTracker pagination', () => {
  it('merges pages into one version without nextCursor', () => {
    const tracker = new SchemaTracker();
    const first = { tools: [tool('a'), tool('b')], nextCursor: 'c1', _meta: { from: 'first' } };
    expect(tracker.observe(page(first))).toBeUndefined();
    expect(tracker.openPaginations).toBe(1);
    expect(
      tracker.observe(page({ tools: [tool('c')], nextCursor: 'c2' }, { requestCursor: 'c1' })),
    ).toBeUndefined();
    const event = tracker.observe(
      page({ tools: [tool('d')] }, { requestCursor: 'c2', jsonrpcId: '3' }),
    );
    expect(event).toMatchObject({ version: 1, jsonrpcId: '3' });
    expect(event!.payload).toEqual({
      tools: [tool('a'), tool('b'), tool('c'), tool('d')],
      _meta: { from: 'first' },
    });
    expect('nextCursor' in event!.payload).toBe(false);
    expect(tracker.openPaginations).toBe(0);
    // The same contract, unpaginated, is the same version.
    expect(
      tracker.observe(page(tools(tool('d'), tool('c'), tool('b'), tool('a')))),
    ).toBeUndefined();
  });

  it('keeps concurrent paginations of two scopes apart', () => {
    const tracker = new SchemaTracker();
    const a = { scope: 'conn-a', sessionId: 'a' };
    const b = { scope: 'conn-b', sessionId: 'b' };
    tracker.observe(page({ tools: [tool('a1')], nextCursor: 'x' }, a));
    tracker.observe(page({ tools: [tool('b1')], nextCursor: 'x' }, b));
    tracker.observe(page({ tools: [tool('a2')], nextCursor: 'y' }, { ...a, requestCursor: 'x' }));
    expect(tracker.openPaginations).toBe(2);
    const fromB = tracker.observe(page({ tools: [tool('b2')] }, { ...b, requestCursor: 'x' }));
    expect(fromB).toMatchObject({ sessionId: 'b', version: 1 });
    expect(fromB!.payload.tools).toEqual([tool('b1'), tool('b2')]);
    const fromA = tracker.observe(page({ tools: [tool('a3')] }, { ...a, requestCursor: 'y' }));
    expect(fromA).toMatchObject({ sessionId: 'a', version: 2 });
    expect(fromA!.payload.tools).toEqual([tool('a1'), tool('a2'), tool('a3')]);
    expect(fromA!.changes).toEqual({
      added: ['a1', 'a2', 'a3'],
      removed: ['b1', 'b2'],
      modified: [],
    });
  });

  it('keeps paginations of two methods in one scope apart', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page({ tools: [tool('a')], nextCursor: 'x' }));
    tracker.observe(
      page({ prompts: [{ name: 'p' }], nextCursor: 'x' }, { method: 'prompts/list' }),
    );
    const prompts = tracker.observe(
      page({ prompts: [{ name: 'q' }] }, { method: 'prompts/list', requestCursor: 'x' }),
    );
    expect(prompts!.payload).toEqual({ prompts: [{ name: 'p' }, { name: 'q' }] });
    const toolsEvent = tracker.observe(page({ tools: [tool('b')] }, { requestCursor: 'x' }));
    expect(toolsEvent!.payload).toEqual({ tools: [tool('a'), tool('b')] });
  });

  it('ignores a continuation page of a pagination it did not see start', () => {
    const tracker = new SchemaTracker();
    expect(tracker.observe(page(tools(tool('a')), { requestCursor: 'c9' }))).toBeUndefined();
    expect(
      tracker.observe(page({ tools: [tool('a')], nextCursor: 'd' }, { requestCursor: 'c9' })),
    ).toBeUndefined();
    expect(tracker.openPaginations).toBe(0);
  });

  it('a new first page starts over, dropping an abandoned pagination', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page({ tools: [tool('stale')], nextCursor: 'x' }));
    const event = tracker.observe(page(tools(tool('fresh'))));
    expect(event!.payload).toEqual({ tools: [tool('fresh')] });
    expect(tracker.openPaginations).toBe(0);
    expect(tracker.observe(page(tools(tool('late')), { requestCursor: 'x' }))).toBeUndefined();
  });

  it('expires an abandoned pagination after PAGINATION_TTL_MS via sweep(now)', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page({ tools: [tool('a')], nextCursor: 'x' }, { now: 1_000 }));
    tracker.observe(
      page({ tools: [tool('b')], nextCursor: 'y' }, { now: 5_000, requestCursor: 'x' }),
    );
    tracker.sweep(5_000 + PAGINATION_TTL_MS);
    expect(tracker.openPaginations).toBe(1); // measured from the last page, not the first
    tracker.sweep(5_001 + PAGINATION_TTL_MS);
    expect(tracker.openPaginations).toBe(0);
    expect(tracker.observe(page(tools(tool('c')), { requestCursor: 'y' }))).toBeUndefined();
  });

  it('markStale drops the open paginations of the methods a list_changed names, in its scope', () => {
    const tracker = new SchemaTracker();
    const open = (method: ListPage['method'], field: string, scope = 'scope-1'): void => {
      tracker.observe(page({ [field]: [], nextCursor: 'x' }, { method, scope }));
    };
    open('tools/list', 'tools');
    open('prompts/list', 'prompts');
    open('resources/list', 'resources');
    open('resources/templates/list', 'resourceTemplates');
    open('tools/list', 'tools', 'scope-2');
    expect(tracker.openPaginations).toBe(5);
    tracker.markStale('scope-1', 'notifications/message');
    expect(() => tracker.markStale('scope-1', 'toString')).not.toThrow();
    expect(() => tracker.markStale('scope-1', '__proto__')).not.toThrow();
    expect(tracker.openPaginations).toBe(5);
    tracker.markStale('scope-1', 'notifications/tools/list_changed');
    expect(tracker.openPaginations).toBe(4);
    expect(tracker.observe(page(tools(tool('a')), { requestCursor: 'x' }))).toBeUndefined();
    tracker.markStale('scope-1', 'notifications/resources/list_changed');
    expect(tracker.openPaginations).toBe(2);
    tracker.markStale('scope-1', 'notifications/prompts/list_changed');
    expect(tracker.openPaginations).toBe(1);
    // scope-2's pagination is untouched and completes.
    const event = tracker.observe(page(tools(tool('a')), { scope: 'scope-2', requestCursor: 'x' }));
    expect(event!.payload).toEqual({ tools: [tool('a')] });
  });

  it('forgetScope drops every pagination of the scope', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page({ tools: [], nextCursor: 'x' }));
    tracker.observe(page({ prompts: [], nextCursor: 'x' }, { method: 'prompts/list' }));
    tracker.observe(page({ tools: [], nextCursor: 'x' }, { scope: 'other' }));
    tracker.forgetScope('scope-1');
    expect(tracker.openPaginations).toBe(1);
  });

  it('gives up on a pagination that never ends after MAX_PAGES', () => {
    const tracker = new SchemaTracker();
    tracker.observe(page({ tools: [tool('t0')], nextCursor: 1 }));
    for (let n = 1; n <= MAX_PAGES; n++) {
      tracker.observe(page({ tools: [tool(`t${n}`)], nextCursor: n + 1 }, { requestCursor: n }));
    }
    expect(tracker.openPaginations).toBe(0);
    expect(
      tracker.observe(page(tools(tool('end')), { requestCursor: MAX_PAGES + 1 })),
    ).toBeUndefined();
  });

  it('merges a continuation page too large to spread into a call', () => {
    const tracker = new SchemaTracker();
    const many = Array.from({ length: 200_000 }, (_, i) => ({ name: `t${i}` }));
    tracker.observe(page({ tools: [tool('first')], nextCursor: 'x' }));
    const event = tracker.observe(page({ tools: many }, { requestCursor: 'x' }));
    expect(event).toBeDefined();
    expect(event!.payload.tools).toHaveLength(200_001);
  });
});

describe('schema method helpers', () => {
  it('recognises the four list methods and their list_changed notifications', () => {
    expect(
      ['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list'].every(
        isSchemaMethod,
      ),
    ).toBe(true);
    expect(isSchemaMethod('tools/call')).toBe(false);
    expect(isSchemaMethod('toString')).toBe(false);
    expect(staleMethodsFor('notifications/tools/list_changed')).toEqual(['tools/list']);
    expect(staleMethodsFor('notifications/resources/list_changed')).toEqual([
      'resources/list',
      'resources/templates/list',
    ]);
    expect(staleMethodsFor('notifications/initialized')).toBeUndefined();
    expect(staleMethodsFor('toString')).toBeUndefined();
  });
});

/**
 * fast-check arbitraries for JSON-RPC / MCP traffic: valid requests, results, errors and
 * notifications, batches, and every kind of malformed message a peer could send (wrong types,
 * missing fields, deep nesting, lone surrogates, `__proto__` keys, non-objects).
 *
 * Ids come mostly from a small pool so that, within one generated sequence, responses,
 * duplicates and cancellations hit the requests they name often enough to matter.
 */
import fc from 'fast-check';

/** Characters that break naive string handling: lone surrogates, controls, separators, quotes. */
export const NASTY_CHARACTERS: readonly string[] = [
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '\u0000',
  '\u0001',
  '\b',
  '\t',
  '\n',
  '\r',
  '\u001B',
  '\u001F',
  '\u007F',
  '\u0085',
  '\u2028',
  '\u2029',
  '\uFEFF',
  '"',
  '\\',
  '\uD83D\uDE00',
];

/** Keys that pollute prototypes when a consumer assigns them naively. */
export const PROTOTYPE_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/**
 * Any code point. Built from an integer rather than fast-check's `'binary'` unit, whose
 * value-to-index table (1.1 million entries) costs about a second to build when shrinking.
 */
const anyCodePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .map((code) => (code >= 0xd800 && code <= 0xdfff ? code - 0x800 : code))
  .map((code) => String.fromCodePoint(code));

const character = fc.oneof(
  fc.constantFrom(...NASTY_CHARACTERS),
  anyCodePoint,
  fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
);

/** Strings mixing any code point with lone surrogates and control characters. */
export function nastyString(constraints: { maxLength?: number } = {}): fc.Arbitrary<string> {
  return fc.string({ unit: character, maxLength: constraints.maxLength ?? 16 });
}

/**
 * URIs: ordinary ones, ones with odd characters, and non-URIs. (Not `fc.webUrl()`: shrinking its
 * percent-encoded characters builds a table of every code point, a second per run.)
 */
export const uri: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    'file:///readme.md',
    'https://example.com/a/b?q=1#f',
    'http://127.0.0.1:8080/mcp',
    'ui://widget/1',
    'data:text/plain,hi',
    '/relative/path',
    'not a uri',
  ),
  nastyString().map((text) => `https://example.com/${text}`),
  nastyString(),
);

/** Any JSON value, small, with nasty strings in keys and values. */
export const jsonValue: fc.Arbitrary<unknown> = fc.jsonValue({
  maxDepth: 3,
  depthSize: 'small',
  stringUnit: character,
});

/** A value nested `depth` levels deep (1..300), objects and arrays alternating or not. */
export const deepValue: fc.Arbitrary<unknown> = fc
  .record({
    depth: fc.integer({ min: 1, max: 300 }),
    arrays: fc.boolean(),
    leaf: fc.oneof(nastyString(), fc.integer(), fc.constant(null)),
  })
  .map(({ depth, arrays, leaf }) => {
    let value: unknown = leaf;
    for (let level = 0; level < depth; level++) {
      value = arrays && level % 2 === 1 ? [value] : { nested: value };
    }
    return value;
  });

/** JSON-RPC ids from a small pool, so they collide within a sequence. */
export const pooledId: fc.Arbitrary<string | number> = fc.constantFrom<string | number>(
  0,
  1,
  2,
  3,
  -0,
  'a',
  'b',
  '1',
);

/** Valid but unusual ids: huge or fractional numbers, long strings, prototype names. */
export const oddId: fc.Arbitrary<string | number> = fc.oneof(
  fc.constantFrom<string | number>(
    Number.MAX_SAFE_INTEGER + 2,
    2 ** 53,
    1e308,
    -1,
    0.5,
    '__proto__',
    'constructor',
    'hasOwnProperty',
    'toString',
    '',
  ),
  fc.integer({ min: 1_000, max: 4_000 }).map((length) => 'id-'.repeat(length)),
  nastyString({ maxLength: 8 }),
);

/** Ids a request cannot have: the message is then a notification, or malformed. */
export const invalidId: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  null,
  undefined,
  true,
  {},
  { id: 1 },
  [],
  [1],
);

/** Ids of requests and responses: mostly pooled, sometimes odd. */
export const requestId: fc.Arbitrary<string | number> = fc.oneof(
  { weight: 6, arbitrary: pooledId },
  { weight: 1, arbitrary: oddId },
);

/**
 * Objects built with JSON.parse so that `__proto__` is an own key, as it is in a message that
 * came off the wire: a consumer that copies them with assignment pollutes prototypes.
 */
export const prototypeKeyObject: fc.Arbitrary<Record<string, unknown>> = fc
  .constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"prototype":{"polluted":"yes"}}',
    '{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}},"prototype":{"polluted":"yes"}}',
    '{"_meta":{"__proto__":{"polluted":"yes"},"progressToken":"__proto__"}}',
    '{"_meta":{"constructor":{"prototype":{"polluted":"yes"}},"progressToken":"constructor"}}',
    '{"_meta":{"io.modelcontextprotocol/clientInfo":{"__proto__":{"polluted":"yes"},"name":"__proto__","version":"constructor"},"io.modelcontextprotocol/protocolVersion":"__proto__"}}',
    '{"name":"__proto__","arguments":{"__proto__":{"polluted":"yes"}},"uri":"constructor"}',
    '{"requestId":"__proto__","reason":"__proto__"}',
    '{"__proto__":{"isError":true},"content":[{"type":"text","text":"__proto__"}]}',
    '{"tools":[{"name":"__proto__","inputSchema":{"__proto__":{"polluted":"yes"},"type":"object"}},{"name":"constructor","inputSchema":{"type":"object"}}]}',
    '{"prompts":[{"name":"prototype","arguments":[{"name":"__proto__"}]}],"__proto__":{"nextCursor":"x"}}',
    '{"resources":[{"name":"__proto__","uri":"__proto__"}]}',
    '{"protocolVersion":"2025-06-18","serverInfo":{"__proto__":{"polluted":"yes"},"name":"constructor"},"capabilities":{"__proto__":{}}}',
    '{"protocolVersion":"2025-06-18","clientInfo":{"name":"__proto__","__proto__":{"polluted":"yes"}},"capabilities":{}}',
  )
  .map((text) => JSON.parse(text) as Record<string, unknown>);

const clientName = fc.constantFrom(
  'claude-ai',
  'Claude Desktop',
  'cursor-vscode',
  'openai-mcp',
  'Visual-Studio-Code',
  'windsurf',
  'mystery',
);

const meta: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    progressToken: fc.oneof(pooledId, invalidId),
    'io.modelcontextprotocol/clientInfo': fc.record(
      { name: fc.oneof(clientName, nastyString()), version: fc.string() },
      { requiredKeys: [] },
    ),
    'io.modelcontextprotocol/protocolVersion': fc.constantFrom('2025-06-18', '2026-07-28', ''),
  },
  { requiredKeys: [] },
);

/** `params` of a request or notification: shaped for the method, or any JSON, or hostile. */
function withMeta(params: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 4, arbitrary: params },
    {
      weight: 1,
      arbitrary: fc.tuple(params, meta).map(([p, m]) => ({ ...p, _meta: m })),
    },
  );
}

const requestShapes: ReadonlyArray<fc.Arbitrary<{ method: string; params?: unknown }>> = [
  fc.record({
    method: fc.constant('initialize'),
    params: withMeta(
      fc.record({
        protocolVersion: fc.constantFrom('2024-11-05', '2025-06-18', '2025-11-25'),
        capabilities: fc.constant({}),
        clientInfo: fc.record({ name: clientName, version: fc.constantFrom('1.0.0', '') }),
      }),
    ),
  }),
  fc.record({
    method: fc.constant('tools/call'),
    params: withMeta(
      fc.record(
        {
          name: fc.oneof(fc.constantFrom('echo', 'fail', 'search'), nastyString()),
          arguments: jsonValue,
        },
        { requiredKeys: ['name'] },
      ),
    ),
  }),
  fc.record(
    {
      method: fc.constantFrom(
        'tools/list',
        'prompts/list',
        'resources/list',
        'resources/templates/list',
      ),
      params: withMeta(
        fc.record(
          { cursor: fc.oneof(fc.constantFrom('page-2', 'page-3'), nastyString()) },
          {
            requiredKeys: [],
          },
        ),
      ),
    },
    { requiredKeys: ['method'] },
  ),
  fc.record({
    method: fc.constant('prompts/get'),
    params: withMeta(
      fc.record(
        { name: nastyString(), arguments: fc.dictionary(nastyString(), nastyString()) },
        { requiredKeys: ['name'] },
      ),
    ),
  }),
  fc.record({
    method: fc.constantFrom('resources/read', 'resources/subscribe', 'resources/unsubscribe'),
    params: withMeta(fc.record({ uri })),
  }),
  fc.record({
    method: fc.constant('sampling/createMessage'),
    params: withMeta(
      fc.record({
        messages: fc.array(
          fc.record({
            role: fc.constantFrom('user', 'assistant'),
            content: fc.record({ type: fc.constant('text'), text: nastyString() }),
          }),
          { maxLength: 3 },
        ),
        maxTokens: fc.integer({ min: 1, max: 4096 }),
      }),
    ),
  }),
  fc.record(
    {
      method: fc.constantFrom('ping', 'roots/list', 'elicitation/create', 'logging/setLevel'),
      params: withMeta(fc.constant({})),
    },
    { requiredKeys: ['method'] },
  ),
  fc.record(
    {
      method: fc.oneof(nastyString(), fc.constantFrom('', '__proto__', 'constructor')),
      params: jsonValue,
    },
    { requiredKeys: ['method'] },
  ),
];

/** A well-formed request (method, id, params shaped for the method). */
export const requestMessage: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.oneof(...requestShapes), requestId)
  .map(([shape, id]) => ({ jsonrpc: '2.0', id, ...shape }));

const toolItem = fc.record(
  {
    name: fc.oneof(fc.constantFrom('echo', 'fail', 'search'), nastyString()),
    description: nastyString(),
    inputSchema: fc.oneof(fc.constant({ type: 'object' }), jsonValue),
    outputSchema: jsonValue,
  },
  { requiredKeys: ['name'] },
);

const resultShapes: ReadonlyArray<fc.Arbitrary<unknown>> = [
  fc.constant({}),
  fc.record(
    {
      content: fc.array(
        fc.oneof(fc.record({ type: fc.constant('text'), text: nastyString() }), jsonValue),
        { maxLength: 3 },
      ),
      isError: fc.oneof(fc.boolean(), fc.constantFrom<unknown>('true', 1, null)),
      structuredContent: jsonValue,
    },
    { requiredKeys: ['content'] },
  ),
  fc.record({
    protocolVersion: fc.constantFrom('2024-11-05', '2025-06-18', '2025-11-25'),
    capabilities: fc.constant({ tools: { listChanged: true } }),
    serverInfo: fc.record({
      name: fc.oneof(nastyString(), fc.constant('srv')),
      version: fc.string(),
    }),
  }),
  fc.record(
    {
      tools: fc.array(toolItem, { maxLength: 4 }),
      nextCursor: fc.oneof(fc.constantFrom<unknown>('page-2', 'page-3', 7, null), nastyString()),
    },
    { requiredKeys: ['tools'] },
  ),
  fc.record(
    {
      prompts: fc.array(
        fc.record({ name: nastyString(), arguments: fc.array(jsonValue, { maxLength: 2 }) }),
        { maxLength: 3 },
      ),
      nextCursor: fc.constantFrom('page-2', 'page-3'),
    },
    { requiredKeys: ['prompts'] },
  ),
  fc.record({
    resources: fc.array(fc.record({ name: nastyString(), uri: fc.oneof(uri, jsonValue) }), {
      maxLength: 3,
    }),
  }),
  fc.record({
    resourceTemplates: fc.array(
      fc.oneof(fc.record({ name: nastyString(), uriTemplate: nastyString() }), jsonValue),
      { maxLength: 3 },
    ),
  }),
  fc.record({
    messages: fc.constant([]),
    role: fc.constant('assistant'),
    content: fc.record({ type: fc.constant('text'), text: nastyString() }),
    model: nastyString(),
  }),
  prototypeKeyObject,
  jsonValue,
];

/** A result response: plain, tools/call (isError or not), initialize, list pages. */
export const resultMessage: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(fc.oneof(...resultShapes), requestId)
  .map(([result, id]) => ({ jsonrpc: '2.0', id, result }));

/** A JSON-RPC error response, sometimes with odd codes and long messages. */
export const errorMessage: fc.Arbitrary<Record<string, unknown>> = fc
  .tuple(
    fc.record(
      {
        code: fc.oneof(
          fc.constantFrom(-32700, -32600, -32601, -32602, -32603, -32000, -32001),
          fc.integer(),
          fc.constantFrom<unknown>('oops', null, 1.5),
        ),
        message: fc.oneof(
          nastyString(),
          fc.integer({ min: 500, max: 2_000 }).map((n) => 'e'.repeat(n)),
          fc.constant<unknown>(42),
        ),
        data: jsonValue,
      },
      { requiredKeys: ['code'] },
    ),
    fc.oneof({ weight: 6, arbitrary: requestId }, { weight: 1, arbitrary: fc.constant(null) }),
  )
  .map(([error, id]) => ({ jsonrpc: '2.0', id, error }));

/** A notification: cancelled (naming pooled ids), progress, list_changed, and others. */
export const notificationMessage: fc.Arbitrary<Record<string, unknown>> = fc
  .oneof(
    fc.record(
      {
        method: fc.constant('notifications/cancelled'),
        params: fc.record(
          { requestId: fc.oneof(requestId, invalidId), reason: nastyString() },
          { requiredKeys: ['requestId'] },
        ),
      },
      { requiredKeys: ['method'] },
    ),
    fc.record({
      method: fc.constant('notifications/progress'),
      params: fc.record(
        {
          progressToken: fc.oneof(pooledId, invalidId),
          progress: fc.double(),
          total: fc.integer(),
          message: nastyString(),
        },
        { requiredKeys: ['progressToken'] },
      ),
    }),
    fc.record(
      {
        method: fc.constantFrom(
          'notifications/tools/list_changed',
          'notifications/prompts/list_changed',
          'notifications/resources/list_changed',
          'notifications/initialized',
          'notifications/message',
          'notifications/resources/updated',
        ),
        params: fc.oneof(jsonValue, prototypeKeyObject),
      },
      { requiredKeys: ['method'] },
    ),
  )
  .map((shape) => ({ jsonrpc: '2.0', ...shape }));

/** A message with wrong types, missing fields, hostile keys or very deep params. */
export const malformedMessage: fc.Arbitrary<unknown> = fc.oneof(
  // wrong types for method / id / params
  fc.record(
    {
      jsonrpc: fc.constantFrom<unknown>('2.0', '1.0', 2, null),
      method: fc.constantFrom<unknown>(1, null, true, {}, ['tools/call'], undefined),
      id: fc.oneof(requestId, invalidId),
      params: fc.oneof(jsonValue, fc.constantFrom<unknown>('params', 7, [1, 2], null)),
      result: jsonValue,
      error: fc.oneof(jsonValue, fc.constant<unknown>([])),
    },
    { requiredKeys: [] },
  ),
  // a request with an id that is not an id, or params that are not an object
  fc
    .tuple(fc.oneof(...requestShapes), invalidId, fc.constantFrom<unknown>('p', 1, [], null))
    .map(([shape, id, params]) => ({ jsonrpc: '2.0', id, method: shape.method, params })),
  // a response with both result and error, or neither
  fc
    .tuple(requestId, jsonValue, jsonValue)
    .map(([id, result, error]) => ({ jsonrpc: '2.0', id, result, error })),
  requestId.map((id) => ({ jsonrpc: '2.0', id })),
  // deep params
  fc
    .tuple(fc.oneof(...requestShapes), requestId, deepValue)
    .map(([shape, id, deep]) => ({ jsonrpc: '2.0', id, method: shape.method, params: { deep } })),
  fc.tuple(requestId, deepValue).map(([id, deep]) => ({ jsonrpc: '2.0', id, result: deep })),
  // prototype keys in params, params._meta, results, and the message itself
  fc
    .tuple(fc.oneof(...requestShapes), fc.oneof(requestId, invalidId), prototypeKeyObject)
    .map(([shape, id, params]) => ({ jsonrpc: '2.0', id, method: shape.method, params })),
  fc.tuple(requestId, prototypeKeyObject).map(([id, result]) => ({ jsonrpc: '2.0', id, result })),
  fc
    .tuple(prototypeKeyObject, fc.constantFrom('tools/call', 'notifications/cancelled'))
    .map(([params, method]) => ({ jsonrpc: '2.0', method, params })),
  fc
    .constantFrom(
      '{"jsonrpc":"2.0","id":1,"__proto__":{"method":"tools/call"}}',
      '{"jsonrpc":"2.0","__proto__":{"id":1},"method":"ping"}',
      '{"jsonrpc":"2.0","id":"__proto__","method":"__proto__","params":{"__proto__":null}}',
      '{"jsonrpc":"2.0","id":"constructor","result":{"__proto__":{"isError":true}}}',
    )
    .map((text) => JSON.parse(text) as unknown),
);

/** Values that are not JSON-RPC objects at all. */
export const nonObjectMessage: fc.Arbitrary<unknown> = fc.oneof(
  nastyString(),
  fc.integer(),
  fc.double(),
  fc.constantFrom<unknown>(null, undefined, true, false, '', '{"jsonrpc":"2.0"}'),
  fc.array(fc.oneof(nastyString(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
);

/** One well-formed message of any kind. */
export const validMessage: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 4, arbitrary: requestMessage },
  { weight: 3, arbitrary: resultMessage },
  { weight: 1, arbitrary: errorMessage },
  { weight: 2, arbitrary: notificationMessage },
);

/** A batch: an array of messages, possibly empty, possibly with junk or nested arrays in it. */
export const batchMessage: fc.Arbitrary<unknown[]> = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: validMessage },
    { weight: 1, arbitrary: malformedMessage },
    { weight: 1, arbitrary: nonObjectMessage },
    { weight: 1, arbitrary: fc.array(validMessage, { maxLength: 2 }) },
  ),
  { maxLength: 5 },
);

/** Anything a transport might deliver or be asked to send. */
export const anyMessage: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 10, arbitrary: validMessage },
  { weight: 2, arbitrary: batchMessage },
  { weight: 3, arbitrary: malformedMessage },
  { weight: 1, arbitrary: nonObjectMessage },
);

/** The `extra` a transport passes with a received message: absent, v1 shapes, or junk. */
export const messageExtra: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      authInfo: fc.record({
        token: nastyString(),
        clientId: nastyString(),
        scopes: fc.array(nastyString(), { maxLength: 2 }),
      }),
      requestInfo: fc.record({
        headers: fc.dictionary(
          fc.constantFrom('mcp-session-id', 'user-agent', '__proto__', 'x'),
          nastyString(),
        ),
        url: uri.map((u) => {
          try {
            return new URL(u);
          } catch {
            return u;
          }
        }),
      }),
    },
    { requiredKeys: [] },
  ),
  fc.constantFrom<unknown>(null, 'extra', 0),
  prototypeKeyObject,
);

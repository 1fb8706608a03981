/**
 * Property-based proof that an instrumented transport is transparent and never throws: for
 * random sequences of valid and malformed JSON-RPC traffic it delivers exactly what the bare
 * transport delivers (same objects, same `extra`, same order, same exceptions), sends exactly
 * what the host sends, leaves no prototype polluted, and releases every pending request on
 * close (issue 2, "Transport middleware" and "Tests").
 *
 * Replay a failure with MCP_OTEL_FC_SEED=<seed printed by fast-check>.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type {
  Transport,
  TransportSendOptions,
} from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage, MessageExtraInfo } from '@modelcontextprotocol/sdk/types.js';
import {
  EventBus,
  createMemorySink,
  instrumentTransport,
  setDiagnosticLogger,
  type MemorySink,
  type RequestEvent,
} from '../../src/index.js';
import { anyMessage, messageExtra, nastyString } from '../helpers/jsonrpc-arbitraries.js';
import { createTestClient, createTestServer, linkedPair } from '../helpers/v1.js';

const PINNED_SEED = pinnedSeed(process.env.MCP_OTEL_FC_SEED);

function pinnedSeed(text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === '') return undefined;
  const seed = Number(text);
  if (!Number.isInteger(seed)) throw new Error(`MCP_OTEL_FC_SEED=${text} is not an integer seed`);
  return seed;
}

/** fast-check parameters: `numRuns`, and the seed when MCP_OTEL_FC_SEED pins one. */
function runs(numRuns: number): { numRuns: number; seed?: number } {
  return PINNED_SEED === undefined ? { numRuns } : { numRuns, seed: PINNED_SEED };
}

// Per-property run counts: 10,000+ generated cases in all, well under 20 s on a 2-core machine.
const SCRIPTED_RUNS = 4_000;
const IN_MEMORY_RUNS = 3_000;
const INSTALLATION_RUNS = 3_000;
const SDK_RUNS = 50;

/** Diagnostics mcp-otel reported: a guarded internal failure is a bug these properties catch. */
const diagnostics: string[] = [];

beforeAll(() => {
  setDiagnosticLogger({
    warn: (message) => diagnostics.push(`warn: ${message}`),
    error: (message) => diagnostics.push(`error: ${message}`),
  });
});

afterAll(() => {
  setDiagnosticLogger(undefined);
});

beforeEach(() => {
  diagnostics.length = 0;
});

// ---------------------------------------------------------------------------------------------
// A custom transport: not an SDK fake but a transport of our own, because the middleware must
// work for any Transport. The test drives it: `deliver` is the wire handing it a message.

type SendMode = 'resolve' | 'reject' | 'throw';

class ScriptedTransport implements Transport {
  onmessage?: Transport['onmessage'];
  onclose?: () => void;
  onerror?: (error: Error) => void;
  sessionId?: string;
  /** Every call of `send`, in order. */
  readonly sent: Array<{ message: unknown; options: unknown }> = [];
  /** What the last `send` returned, until taken. */
  private lastSendResult: Promise<void> | undefined;
  /** How the next `send` ends, and with what. */
  sendMode: SendMode = 'resolve';
  sendError: unknown;

  constructor(sessionId: string | undefined) {
    if (sessionId !== undefined) this.sessionId = sessionId;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  send(message: JSONRPCMessage, options?: TransportSendOptions): Promise<void> {
    this.sent.push({ message, options });
    if (this.sendMode === 'throw') throw this.sendError;
    const result = this.sendMode === 'reject' ? this.rejected(this.sendError) : Promise.resolve();
    this.lastSendResult = result;
    return result;
  }

  /** A promise rejected with `reason`, whatever it is (hosts' transports reject with non-Errors too). */
  private async rejected(reason: unknown): Promise<void> {
    await Promise.resolve();
    throw reason;
  }

  /** The promise the last `send` returned (undefined when it threw), once. */
  takeSendResult(): Promise<void> | undefined {
    const result = this.lastSendResult;
    this.lastSendResult = undefined;
    return result;
  }

  close(): Promise<void> {
    this.onclose?.();
    return Promise.resolve();
  }

  /** The peer's message arrives: calls `onmessage` as a transport does, returning its result. */
  deliver(message: unknown, extra: unknown): unknown {
    const handler = this.onmessage as
      ((this: unknown, message: unknown, extra: unknown) => unknown) | undefined;
    return handler?.call(this, message, extra);
  }

  /** An out-of-band error, reported as a transport does. */
  fail(error: Error): void {
    this.onerror?.(error);
  }
}

type Handler = (this: unknown, message: unknown, extra: unknown) => unknown;

function setHandler(transport: Transport, handler: Handler | undefined): void {
  transport.onmessage = handler;
}

// ---------------------------------------------------------------------------------------------
// Actions and their arbitraries.

type HandlerOutcome = { throws: false; value: unknown } | { throws: true; error: unknown };

type Action =
  | { kind: 'receive'; message: unknown; extra: unknown; outcome: HandlerOutcome }
  | { kind: 'send'; message: unknown; options: unknown; mode: SendMode; error: unknown }
  | { kind: 'error'; error: Error }
  | { kind: 'close' };

/** What a host's code throws: Errors, and values that are not. */
const thrownValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: nastyString().map((text) => new Error(text)) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 'a string', 0) },
  { weight: 1, arbitrary: fc.string().map((text) => ({ notAnError: text })) },
);

const handlerOutcome: fc.Arbitrary<HandlerOutcome> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .constantFrom<unknown>(undefined, 1, 'returned')
      .map((value): HandlerOutcome => ({ throws: false, value })),
  },
  { weight: 1, arbitrary: thrownValue.map((error): HandlerOutcome => ({ throws: true, error })) },
);

const sendOptions: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      relatedRequestId: fc.constantFrom<string | number>(1, 'a'),
      authInfo: fc.record({ token: nastyString(), clientId: fc.string(), scopes: fc.constant([]) }),
    },
    { requiredKeys: [] },
  ),
);

function actionArbitrary(sendModes: readonly SendMode[]): fc.Arbitrary<Action> {
  return fc.oneof(
    {
      weight: 10,
      arbitrary: fc
        .record({ message: anyMessage, extra: messageExtra, outcome: handlerOutcome })
        .map((a): Action => ({ kind: 'receive', ...a })),
    },
    {
      weight: 8,
      arbitrary: fc
        .record({
          message: anyMessage,
          options: sendOptions,
          mode: fc.constantFrom(...sendModes),
          error: thrownValue,
        })
        .map((a): Action => ({ kind: 'send', ...a })),
    },
    {
      weight: 1,
      arbitrary: nastyString().map((text): Action => ({ kind: 'error', error: new Error(text) })),
    },
    { weight: 1, arbitrary: fc.constant<Action>({ kind: 'close' }) },
  );
}

const scriptedPlan = fc.record({
  actions: fc.array(actionArbitrary(['resolve', 'resolve', 'resolve', 'reject', 'throw']), {
    maxLength: 14,
  }),
  /** Whether the host's handlers are installed before the transport is instrumented. */
  handlersFirst: fc.boolean(),
  sessionId: fc.option(fc.constantFrom('sess-1', ''), { nil: undefined }),
});

const inMemoryPlan = fc.record({
  actions: fc.array(actionArbitrary(['resolve']), { maxLength: 14 }),
  handlersFirst: fc.boolean(),
});

// ---------------------------------------------------------------------------------------------
// The model: which request events an instrumented transport must produce for a sequence.

type Id = string | number;

interface ExpectedRequest {
  role: RequestEvent['role'];
  mcpMethod: string;
  jsonrpcId: string | undefined;
  note: RequestEvent['note'];
  tool: string | undefined;
}

interface Open {
  readonly method: string;
  readonly id: Id;
  readonly role: RequestEvent['role'];
  readonly tool: string | undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is Id {
  return typeof value === 'string' || typeof value === 'number';
}

/**
 * JSON-RPC correlation as the issue specifies it, per direction: a request (string method, id)
 * opens a slot (a duplicate id does not: the first keeps it); a response (no string method, an
 * id) to an open slot ends it as `error`, `tool_error` or `ok`; `notifications/cancelled` ends
 * the slot it names; a failed send (throw or rejection) ends the requests it opened as `error`;
 * close ends every open slot as `closed`, and nothing after close is observed. A batch is its
 * items, in order; a nested array is not a message.
 */
class CorrelationModel {
  readonly events: ExpectedRequest[] = [];
  private readonly incoming = new Map<Id, Open>();
  private readonly outgoing = new Map<Id, Open>();
  private closed = false;

  received(message: unknown): void {
    if (this.closed) return;
    for (const item of Array.isArray(message) ? message : [message]) this.observe(item, 'in');
  }

  sent(message: unknown, failed: boolean): void {
    if (this.closed) return;
    const opened: Open[] = [];
    for (const item of Array.isArray(message) ? message : [message]) {
      const open = this.observe(item, 'out');
      if (open) opened.push(open);
    }
    if (!failed) return;
    // Only the requests this send opened: a duplicate id leaves the request holding it alone.
    for (const open of opened) {
      if (this.outgoing.get(open.id) !== open) continue;
      this.outgoing.delete(open.id);
      this.end(open, 'error');
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const map of [this.incoming, this.outgoing]) {
      for (const open of map.values()) this.end(open, 'closed');
      map.clear();
    }
  }

  /** Returns the request slot the item opened, if it did. */
  private observe(item: unknown, direction: 'in' | 'out'): Open | undefined {
    if (!isRecord(item)) return undefined;
    const role = direction === 'in' ? 'server' : 'client';
    const method = item.method;
    const id = item.id;
    const params = isRecord(item.params) ? item.params : undefined;
    if (typeof method === 'string' && isId(id)) {
      const map = direction === 'in' ? this.incoming : this.outgoing;
      if (map.has(id)) return undefined;
      const tool =
        method === 'tools/call' && typeof params?.name === 'string' ? params.name : undefined;
      const open: Open = { method, id, role, tool };
      map.set(id, open);
      return open;
    }
    if (typeof method === 'string') {
      if (method === 'notifications/cancelled' && params && isId(params.requestId)) {
        const map = direction === 'in' ? this.incoming : this.outgoing;
        const open = map.get(params.requestId);
        if (open) {
          map.delete(params.requestId);
          this.end(open, 'cancelled');
        }
      }
      this.events.push({
        role,
        mcpMethod: method,
        jsonrpcId: undefined,
        note: 'notification',
        tool: undefined,
      });
      return undefined;
    }
    if (!isId(id)) return undefined;
    const map = direction === 'out' ? this.incoming : this.outgoing;
    const open = map.get(id);
    if (!open) return undefined;
    map.delete(id);
    const result = isRecord(item.result) ? item.result : undefined;
    const note: RequestEvent['note'] = isRecord(item.error)
      ? 'error'
      : open.method === 'tools/call' && result?.isError === true
        ? 'tool_error'
        : 'ok';
    this.end(open, note);
    return undefined;
  }

  private end(open: Open, note: RequestEvent['note']): void {
    this.events.push({
      role: open.role,
      mcpMethod: open.method,
      jsonrpcId: String(open.id),
      note,
      tool: open.tool,
    });
  }
}

/** The request events `actions` must produce (see {@link CorrelationModel}). */
function expectedEvents(actions: readonly Action[]): CorrelationModel {
  const model = new CorrelationModel();
  for (const action of actions) {
    if (action.kind === 'receive') model.received(action.message);
    else if (action.kind === 'send') model.sent(action.message, action.mode !== 'resolve');
    else if (action.kind === 'close') model.close();
  }
  model.close();
  return model;
}

// ---------------------------------------------------------------------------------------------
// Running a plan on a bare or an instrumented transport.

type Settled = { threw: false; value: unknown } | { threw: true; error: unknown };

function attempt(fn: () => unknown): Settled {
  try {
    return { threw: false, value: fn() };
  } catch (error) {
    return { threw: true, error };
  }
}

async function settle(fn: () => unknown): Promise<Settled> {
  try {
    return { threw: false, value: await fn() };
  } catch (error) {
    return { threw: true, error };
  }
}

interface Delivery {
  readonly message: unknown;
  readonly extra: unknown;
  /** `this` was the transport, as for a bare transport. */
  readonly selfIsTransport: boolean;
}

type Step =
  | { kind: 'receive'; deliveries: Delivery[]; result: Settled }
  | {
      kind: 'send';
      inner: Array<{ message: unknown; options: unknown }>;
      result: Settled;
      /** The promise the inner transport's send returned. */
      innerResult: unknown;
    }
  | { kind: 'error'; errors: Array<{ error: unknown; selfIsTransport: boolean }> }
  | { kind: 'close'; closes: number };

interface Instrumentation {
  readonly bus: EventBus;
  readonly sink: MemorySink;
}

function newInstrumentation(): Instrumentation {
  const sink = createMemorySink();
  const bus = new EventBus({ sinks: [sink], maxQueueSize: 1_000_000, flushIntervalMs: 0 });
  return { bus, sink };
}

async function runScripted(
  plan: { actions: readonly Action[]; handlersFirst: boolean; sessionId: string | undefined },
  instrumentation: Instrumentation | undefined,
): Promise<{ steps: Step[]; sessionId: unknown; returnedItself: boolean }> {
  const transport = new ScriptedTransport(plan.sessionId);
  const deliveries: Delivery[] = [];
  const errors: Array<{ error: unknown; selfIsTransport: boolean }> = [];
  let closes = 0;
  let outcome: HandlerOutcome = { throws: false, value: undefined };
  const install = (): void => {
    setHandler(transport, function (this: unknown, message, extra) {
      deliveries.push({ message, extra, selfIsTransport: this === transport });
      if (outcome.throws) throw outcome.error;
      return outcome.value;
    });
    transport.onclose = () => {
      closes++;
    };
    transport.onerror = function (this: unknown, error) {
      errors.push({ error, selfIsTransport: this === transport });
    };
  };
  let returned: unknown = transport;
  const instrument = (): void => {
    if (instrumentation) {
      returned = instrumentTransport(transport, {
        bus: instrumentation.bus,
        heartbeatIntervalMs: 0,
      });
    }
  };
  if (plan.handlersFirst) {
    install();
    instrument();
  } else {
    instrument();
    install();
  }
  await transport.start();

  const steps: Step[] = [];
  for (const action of [...plan.actions, { kind: 'close' } as const]) {
    switch (action.kind) {
      case 'receive': {
        outcome = action.outcome;
        const before = deliveries.length;
        const result = attempt(() => transport.deliver(action.message, action.extra));
        steps.push({ kind: 'receive', deliveries: deliveries.slice(before), result });
        break;
      }
      case 'send': {
        transport.sendMode = action.mode;
        transport.sendError = action.error;
        const before = transport.sent.length;
        const result = attempt(() =>
          transport.send(action.message as JSONRPCMessage, action.options as TransportSendOptions),
        );
        const innerResult = transport.takeSendResult();
        // Let the rejection of a failed send be seen before the next action.
        if (innerResult) await innerResult.then(noop, noop);
        steps.push({ kind: 'send', inner: transport.sent.slice(before), result, innerResult });
        break;
      }
      case 'error': {
        const before = errors.length;
        transport.fail(action.error);
        steps.push({ kind: 'error', errors: errors.slice(before) });
        break;
      }
      case 'close': {
        const before = closes;
        await transport.close();
        steps.push({ kind: 'close', closes: closes - before });
        break;
      }
    }
  }
  return { steps, sessionId: transport.sessionId, returnedItself: returned === transport };
}

function noop(): void {}

/**
 * Compares the instrumented run with the bare one, object for object, and returns the first
 * difference (undefined when there is none). Plain comparisons, one `expect` per run: the
 * properties run thousands of times.
 */
function stepsMismatch(
  actions: readonly Action[],
  bare: readonly Step[],
  instrumented: readonly Step[],
): string | undefined {
  if (instrumented.length !== bare.length)
    return `${instrumented.length} steps, not ${bare.length}`;
  for (let index = 0; index < bare.length; index++) {
    const expected = bare[index]!;
    const actual = instrumented[index]!;
    const action = actions[index];
    const at = `step ${index} (${expected.kind})`;
    if (actual.kind !== expected.kind) return `${at}: ran as ${actual.kind}`;
    if (expected.kind === 'receive' && actual.kind === 'receive') {
      if (actual.deliveries.length !== expected.deliveries.length) {
        return `${at}: handler called ${actual.deliveries.length} times, not ${expected.deliveries.length}`;
      }
      for (let d = 0; d < expected.deliveries.length; d++) {
        const want = expected.deliveries[d]!;
        const got = actual.deliveries[d]!;
        if (!Object.is(got.message, want.message))
          return `${at}: handler got another message object`;
        if (!Object.is(got.extra, want.extra)) return `${at}: handler got another extra`;
        if (got.selfIsTransport !== want.selfIsTransport) return `${at}: handler's this differs`;
      }
      const mismatch = settledMismatch(expected.result, actual.result, true);
      if (mismatch) return `${at}: ${mismatch}`;
      // The host's own exception passes through: the very value its handler threw.
      if (
        action?.kind === 'receive' &&
        action.outcome.throws &&
        actual.deliveries.length > 0 &&
        !(actual.result.threw && Object.is(actual.result.error, action.outcome.error))
      ) {
        return `${at}: the handler's exception did not propagate unchanged`;
      }
    } else if (expected.kind === 'send' && actual.kind === 'send') {
      if (actual.inner.length !== expected.inner.length) {
        return `${at}: inner send called ${actual.inner.length} times, not ${expected.inner.length}`;
      }
      for (let c = 0; c < expected.inner.length; c++) {
        if (!Object.is(actual.inner[c]!.message, expected.inner[c]!.message)) {
          return `${at}: inner send got another message object`;
        }
        if (!Object.is(actual.inner[c]!.options, expected.inner[c]!.options)) {
          return `${at}: inner send got other options`;
        }
      }
      // Each transport returns its own promise: compare how they end, not the objects.
      const mismatch = settledMismatch(expected.result, actual.result, false);
      if (mismatch) return `${at}: ${mismatch}`;
      // The caller gets the inner transport's own promise, not one of ours.
      if (!actual.result.threw && !Object.is(actual.result.value, actual.innerResult)) {
        return `${at}: send returned another promise than the inner send's`;
      }
    } else if (expected.kind === 'error' && actual.kind === 'error') {
      if (actual.errors.length !== expected.errors.length) return `${at}: onerror call count`;
      for (let e = 0; e < expected.errors.length; e++) {
        if (!Object.is(actual.errors[e]!.error, expected.errors[e]!.error))
          return `${at}: another error`;
        if (actual.errors[e]!.selfIsTransport !== expected.errors[e]!.selfIsTransport) {
          return `${at}: onerror's this differs`;
        }
      }
    } else if (expected.kind === 'close' && actual.kind === 'close') {
      if (actual.closes !== expected.closes) {
        return `${at}: onclose called ${actual.closes} times, not ${expected.closes}`;
      }
    }
  }
  return undefined;
}

/** Same outcome: both returned the same value, or both threw the same value. */
function settledMismatch(
  expected: Settled,
  actual: Settled,
  compareValues: boolean,
): string | undefined {
  if (actual.threw && !expected.threw) {
    return `threw ${String(actual.error)} where the bare transport did not`;
  }
  if (!actual.threw && expected.threw) {
    return `did not throw where the bare transport threw ${String(expected.error)}`;
  }
  if (expected.threw && actual.threw && !Object.is(actual.error, expected.error)) {
    return `threw another value: ${String(actual.error)}`;
  }
  if (
    compareValues &&
    !expected.threw &&
    !actual.threw &&
    !Object.is(actual.value, expected.value)
  ) {
    return 'returned another value';
  }
  return undefined;
}

/** Keys that appeared on the built-in prototypes (none may). */
function pollution(): string[] {
  const sentinel = ({} as Record<string, unknown>).polluted;
  return [
    ...(sentinel === undefined ? [] : ['({}).polluted is set']),
    ...Object.keys(Object.prototype).map((key) => `Object.prototype.${key}`),
    ...Object.keys(Array.prototype).map((key) => `Array.prototype.${key}`),
    ...Object.keys(Function.prototype).map((key) => `Function.prototype.${key}`),
  ];
}

/**
 * Collects what must hold for every run as messages, so that one `expect` checks them all:
 * the properties run thousands of times and each `expect` has a cost.
 */
function problems(...found: Array<string | false | undefined | readonly string[]>): string[] {
  return found.flatMap((item) => (typeof item === 'string' ? [item] : item ? [...item] : []));
}

/** JSON text of every message in a plan, to prove that nothing was mutated. */
function snapshot(actions: readonly Action[]): string {
  return JSON.stringify(
    actions.map((action) =>
      action.kind === 'receive' || action.kind === 'send' ? action.message : action.kind,
    ),
  );
}

function requestFacts(sink: MemorySink): ExpectedRequest[] {
  return sink.ofType('request').map((event) => ({
    role: event.role,
    mcpMethod: event.mcpMethod,
    jsonrpcId: event.jsonrpcId,
    note: event.note,
    tool: event.tool,
  }));
}

/**
 * After close: the request events the model predicts (every request left unanswered ended as
 * `closed`), nothing dropped, every session ended, every event JSON-serialisable.
 */
async function expectReleased(
  { bus, sink }: Instrumentation,
  model: CorrelationModel,
  found: string[],
): Promise<void> {
  await bus.flush();
  expect(requestFacts(sink)).toEqual(model.events);
  const starts = sink.ofType('session_start').length;
  const ends = sink.ofType('session_end').length;
  let serialisable = true;
  try {
    JSON.stringify(sink.events);
  } catch {
    serialisable = false;
  }
  await bus.shutdown();
  expect(
    problems(
      found,
      bus.droppedEvents !== 0 && `${bus.droppedEvents} events dropped`,
      starts !== ends && `${starts} sessions started, ${ends} ended`,
      !serialisable && 'an event is not JSON-serialisable',
      diagnostics.map((line) => `diagnostic: ${line}`),
    ),
  ).toEqual([]);
}

// ---------------------------------------------------------------------------------------------

interface PairStep {
  /** What the subject's handler got (receive) or the peer's handler got (send). */
  deliveries: Array<{ message: unknown; extra: unknown }>;
  result: Settled;
  /** onclose calls of the subject and of the peer during the step. */
  closes: [number, number];
}

/**
 * Runs a plan over the SDK's InMemoryTransport pair: `subject` is the transport under test,
 * `peer` the other end; receiving is the peer sending, sending is the subject sending.
 */
async function runPair(
  plan: { actions: readonly Action[]; handlersFirst: boolean },
  instrumentation: Instrumentation | undefined,
): Promise<PairStep[]> {
  const [peer, subject] = InMemoryTransport.createLinkedPair();
  const subjectGot: Array<{ message: unknown; extra: unknown }> = [];
  const peerGot: Array<{ message: unknown; extra: unknown }> = [];
  const closes: [number, number] = [0, 0];
  let outcome: HandlerOutcome = { throws: false, value: undefined };
  const install = (): void => {
    setHandler(subject, (message, extra) => {
      subjectGot.push({ message, extra });
      if (outcome.throws) throw outcome.error;
      return outcome.value;
    });
    subject.onclose = () => {
      closes[0]++;
    };
  };
  setHandler(peer, (message, extra) => {
    peerGot.push({ message, extra });
  });
  peer.onclose = () => {
    closes[1]++;
  };
  const instrument = (): void => {
    if (instrumentation) {
      instrumentTransport(subject, { bus: instrumentation.bus, heartbeatIntervalMs: 0 });
    }
  };
  if (plan.handlersFirst) {
    install();
    instrument();
  } else {
    instrument();
    install();
  }
  await subject.start();
  await peer.start();

  const steps: PairStep[] = [];
  for (const action of [...plan.actions, { kind: 'close' } as const]) {
    const before: [number, number] = [closes[0], closes[1]];
    const closed = (): [number, number] => [closes[0] - before[0], closes[1] - before[1]];
    switch (action.kind) {
      case 'receive': {
        outcome = action.outcome;
        const from = subjectGot.length;
        const options = isRecord(action.extra) ? { authInfo: action.extra.authInfo } : undefined;
        const result = await settle(() =>
          peer.send(action.message as JSONRPCMessage, options as TransportSendOptions),
        );
        steps.push({ deliveries: subjectGot.slice(from), result, closes: closed() });
        break;
      }
      case 'send': {
        const from = peerGot.length;
        const result = await settle(() =>
          subject.send(action.message as JSONRPCMessage, action.options as TransportSendOptions),
        );
        steps.push({ deliveries: peerGot.slice(from), result, closes: closed() });
        break;
      }
      case 'error': {
        subject.onerror?.(action.error);
        steps.push({
          deliveries: [],
          result: { threw: false, value: undefined },
          closes: closed(),
        });
        break;
      }
      case 'close': {
        const result = await settle(() => subject.close());
        steps.push({ deliveries: [], result, closes: closed() });
        break;
      }
    }
  }
  return steps;
}

function pairMismatch(
  actions: readonly Action[],
  bare: readonly PairStep[],
  instrumented: readonly PairStep[],
): string | undefined {
  if (instrumented.length !== bare.length)
    return `${instrumented.length} steps, not ${bare.length}`;
  for (let index = 0; index < bare.length; index++) {
    const expected = bare[index]!;
    const actual = instrumented[index]!;
    const action = actions[index];
    const at = `step ${index} (${action?.kind ?? 'final close'})`;
    if (actual.closes[0] !== expected.closes[0] || actual.closes[1] !== expected.closes[1]) {
      return `${at}: onclose calls ${actual.closes.join('/')}, not ${expected.closes.join('/')}`;
    }
    if (actual.deliveries.length !== expected.deliveries.length) {
      return `${at}: ${actual.deliveries.length} deliveries, not ${expected.deliveries.length}`;
    }
    for (let d = 0; d < expected.deliveries.length; d++) {
      const want = expected.deliveries[d]!;
      const got = actual.deliveries[d]!;
      if (!Object.is(got.message, want.message)) return `${at}: another message object arrived`;
      // InMemoryTransport builds a fresh `extra` per message: same shape, same authInfo object.
      const wantExtra = want.extra as MessageExtraInfo | undefined;
      const gotExtra = got.extra as MessageExtraInfo | undefined;
      if (
        typeof gotExtra !== typeof wantExtra ||
        Object.keys(gotExtra ?? {}).join() !== Object.keys(wantExtra ?? {}).join() ||
        !Object.is(gotExtra?.authInfo, wantExtra?.authInfo)
      ) {
        return `${at}: another extra arrived`;
      }
    }
    if (actual.result.threw !== expected.result.threw) {
      return `${at}: threw ${String(actual.result.threw)}, bare ${String(expected.result.threw)}`;
    }
    if (actual.result.threw && expected.result.threw) {
      const own = action?.kind === 'receive' && action.outcome.throws ? action.outcome : undefined;
      if (own && Object.is(expected.result.error, own.error)) {
        if (!Object.is(actual.result.error, own.error))
          return `${at}: the handler's exception changed`;
      } else if (String(actual.result.error) !== String(expected.result.error)) {
        // Transport errors ("Not connected") are new objects each time: same message.
        return `${at}: rejected with ${String(actual.result.error)}, bare ${String(expected.result.error)}`;
      }
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------

describe('instrumented transport is transparent (property-based)', () => {
  it('custom transport: same deliveries, same sends, same exceptions; pending released on close', async () => {
    await fc.assert(
      fc.asyncProperty(scriptedPlan, async (plan) => {
        diagnostics.length = 0;
        const before = snapshot(plan.actions);
        const bare = await runScripted(plan, undefined);
        const instrumentation = newInstrumentation();
        const instrumented = await runScripted(plan, instrumentation);

        await expectReleased(
          instrumentation,
          expectedEvents(plan.actions),
          problems(
            stepsMismatch(plan.actions, bare.steps, instrumented.steps),
            !instrumented.returnedItself && 'instrumentTransport returned another object',
            instrumented.sessionId !== bare.sessionId && 'sessionId changed',
            snapshot(plan.actions) !== before && 'a message was mutated',
            pollution(),
          ),
        );
      }),
      runs(SCRIPTED_RUNS),
    );
  });

  it('SDK InMemoryTransport pair: the peer receives what the bare pair receives', async () => {
    await fc.assert(
      fc.asyncProperty(inMemoryPlan, async (plan) => {
        diagnostics.length = 0;
        const before = snapshot(plan.actions);
        const bare = await runPair(plan, undefined);
        const instrumentation = newInstrumentation();
        const instrumented = await runPair(plan, instrumentation);

        await expectReleased(
          instrumentation,
          expectedEvents(plan.actions),
          problems(
            pairMismatch(plan.actions, bare, instrumented),
            snapshot(plan.actions) !== before && 'a message was mutated',
            pollution(),
          ),
        );
      }),
      runs(IN_MEMORY_RUNS),
    );
  });

  it('handlers installed before, after, replaced, read back and chained are each observed once', async () => {
    type HandlerOp = 'set' | 'unset' | 'reassign' | 'chain';
    type TrafficStep = HandlerOp | 'request' | 'notify';
    const handlerOp = fc.constantFrom<HandlerOp>('set', 'unset', 'reassign', 'chain');
    const plan = fc
      .record({
        setup: fc.array(handlerOp, { maxLength: 5 }),
        at: fc.nat(),
        traffic: fc.array(
          fc.oneof(
            { weight: 2, arbitrary: handlerOp },
            { weight: 3, arbitrary: fc.constantFrom<TrafficStep>('request', 'notify') },
          ),
          { maxLength: 16 },
        ),
      })
      .map(({ setup, at, traffic }) => ({ setup, at: at % (setup.length + 1), traffic }));

    interface InstallationRun {
      /** Per handler ever installed, the messages it got. */
      logs: unknown[][];
      /** Ids of the requests a handler was installed to receive (and that were answered). */
      answered: string[];
      notified: number;
    }

    function runInstallation(
      p: { setup: HandlerOp[]; at: number; traffic: TrafficStep[] },
      messages: ReadonlyArray<{
        request: Record<string, unknown>;
        response: Record<string, unknown>;
        notification: Record<string, unknown>;
      }>,
      instrumentation: Instrumentation | undefined,
    ): InstallationRun {
      const transport = new ScriptedTransport(undefined);
      const logs: unknown[][] = [];
      const apply = (op: HandlerOp): void => {
        switch (op) {
          case 'set': {
            const log: unknown[] = [];
            logs.push(log);
            setHandler(transport, (message) => {
              log.push(message);
            });
            break;
          }
          case 'unset':
            setHandler(transport, undefined);
            break;
          case 'reassign': {
            const current = transport.onmessage;
            transport.onmessage = current;
            break;
          }
          case 'chain': {
            // What the SDK's Protocol.connect() does: keep the handler found, call it first.
            const previous = transport.onmessage as Handler | undefined;
            const log: unknown[] = [];
            logs.push(log);
            setHandler(transport, function (this: unknown, message, extra) {
              previous?.call(this, message, extra);
              log.push(message);
            });
            break;
          }
        }
      };
      p.setup.forEach((op, index) => {
        if (index === p.at && instrumentation) {
          instrumentTransport(transport, { bus: instrumentation.bus, heartbeatIntervalMs: 0 });
        }
        apply(op);
      });
      if (p.at === p.setup.length && instrumentation) {
        instrumentTransport(transport, { bus: instrumentation.bus, heartbeatIntervalMs: 0 });
      }
      const answered: string[] = [];
      let notified = 0;
      p.traffic.forEach((step, index) => {
        const m = messages[index]!;
        if (step === 'request') {
          const installed = transport.onmessage !== undefined;
          transport.deliver(m.request, undefined);
          void transport.send(m.response as JSONRPCMessage);
          if (installed) answered.push(String(m.request.id));
        } else if (step === 'notify') {
          if (transport.onmessage !== undefined) notified++;
          transport.deliver(m.notification, undefined);
        } else {
          apply(step);
        }
      });
      void transport.close();
      return { logs, answered, notified };
    }

    await fc.assert(
      fc.asyncProperty(plan, async (p) => {
        diagnostics.length = 0;
        const messages = p.traffic.map((_, index) => ({
          request: {
            jsonrpc: '2.0',
            id: `r${index}`,
            method: 'tools/call',
            params: { name: `tool-${index}` },
          },
          response: { jsonrpc: '2.0', id: `r${index}`, result: { content: [] } },
          notification: { jsonrpc: '2.0', method: 'notifications/initialized' },
        }));
        const bare = runInstallation(p, messages, undefined);
        const instrumentation = newInstrumentation();
        const instrumented = runInstallation(p, messages, instrumentation);

        // Every handler got the same messages, each once, as without instrumentation.
        const handlerMismatch = bare.logs.flatMap((log, h) => {
          const got = instrumented.logs[h];
          return got?.length === log.length && log.every((message, i) => got[i] === message)
            ? []
            : [`handler ${h} got ${got?.length ?? 0} messages, not the bare ${log.length}`];
        });

        await instrumentation.bus.flush();
        const requests = instrumentation.sink.ofType('request');
        const notifications = requests.filter((e) => e.note === 'notification').length;
        // One event per request a handler saw and the host answered: never two.
        const answered = requests
          .filter((e) => e.note !== 'notification')
          .map((e) => `${e.jsonrpcId}:${e.tool}:${e.note}`);
        await instrumentation.bus.shutdown();
        expect(answered).toEqual(instrumented.answered.map((id) => `${id}:tool-${id.slice(1)}:ok`));
        expect(
          problems(
            instrumented.logs.length !== bare.logs.length && 'another number of handlers',
            handlerMismatch,
            instrumented.answered.join() !== bare.answered.join() &&
              'other requests reached a handler',
            notifications !== instrumented.notified &&
              `${notifications} notification events, not ${instrumented.notified}`,
            pollution(),
            diagnostics,
          ),
        ).toEqual([]);
      }),
      runs(INSTALLATION_RUNS),
    );
  });

  it('SDK pattern: a real server over an instrumented InMemoryTransport answers as an uninstrumented one', async () => {
    type Call =
      | { kind: 'echo'; text: string }
      | { kind: 'echo-invalid'; value: number }
      | { kind: 'fail' }
      | { kind: 'missing' };
    const call: fc.Arbitrary<Call> = fc.oneof(
      {
        weight: 4,
        arbitrary: nastyString({ maxLength: 40 }).map((text): Call => ({ kind: 'echo', text })),
      },
      {
        weight: 1,
        arbitrary: fc.integer().map((value): Call => ({ kind: 'echo-invalid', value })),
      },
      { weight: 2, arbitrary: fc.constant<Call>({ kind: 'fail' }) },
      { weight: 1, arbitrary: fc.constant<Call>({ kind: 'missing' }) },
    );

    async function callAll(
      calls: readonly Call[],
      concurrent: boolean,
      instrumentation: Instrumentation | undefined,
    ): Promise<unknown[]> {
      const server = createTestServer();
      const client = createTestClient();
      const [clientTransport, serverTransport] = linkedPair();
      if (instrumentation) {
        instrumentTransport(serverTransport, { bus: instrumentation.bus, heartbeatIntervalMs: 0 });
      }
      await server.connect(serverTransport);
      await client.connect(clientTransport);
      const one = (c: Call): Promise<unknown> => {
        switch (c.kind) {
          case 'echo':
            return client.callTool({ name: 'echo', arguments: { text: c.text } });
          case 'echo-invalid':
            return client.callTool({ name: 'echo', arguments: { text: c.value } });
          case 'fail':
            return client.callTool({ name: 'fail' });
          case 'missing':
            return client.callTool({ name: 'no-such-tool' });
        }
      };
      let results: unknown[];
      if (concurrent) {
        results = await Promise.all(calls.map(one));
      } else {
        results = [];
        for (const c of calls) results.push(await one(c));
      }
      await client.close();
      await server.close();
      return results;
    }

    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (calls, concurrent) => {
          diagnostics.length = 0;
          const bare = await callAll(calls, concurrent, undefined);
          const instrumentation = newInstrumentation();
          const instrumented = await callAll(calls, concurrent, instrumentation);

          expect(instrumented).toEqual(bare);
          calls.forEach((c, index) => {
            if (c.kind === 'echo') {
              expect(instrumented[index]).toEqual({ content: [{ type: 'text', text: c.text }] });
            }
          });

          await instrumentation.bus.flush();
          const toolCalls = instrumentation.sink
            .ofType('request')
            .filter((e) => e.mcpMethod === 'tools/call');
          expect(toolCalls.every((e) => e.role === 'server')).toBe(true);
          const notes = (list: Array<{ note: string; tool?: string }>): string[] =>
            list.map((e) => `${e.tool}:${e.note}`).sort();
          expect(notes(toolCalls)).toEqual(
            notes(
              calls.map((c) =>
                c.kind === 'echo'
                  ? { tool: 'echo', note: 'ok' }
                  : {
                      tool:
                        c.kind === 'fail' ? 'fail' : c.kind === 'missing' ? 'no-such-tool' : 'echo',
                      note: 'tool_error',
                    },
              ),
            ),
          );
          expect(instrumentation.sink.ofType('session_start')).toHaveLength(1);
          expect(instrumentation.sink.ofType('session_end')).toHaveLength(1);
          expect(instrumentation.bus.droppedEvents).toBe(0);
          await instrumentation.bus.shutdown();
          expect(diagnostics).toEqual([]);
        },
      ),
      runs(SDK_RUNS),
    );
  });
});

// Minimal cases for how a failed send ends the requests it carried (the property above checks
// the same rule on random sequences): a request whose send rejects or throws ends as `error`,
// so do the requests of a batch, and never another request that happens to hold the id.
describe('send failures end exactly the requests they carried', () => {
  const request = (id: Id, name: string): JSONRPCMessage => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name },
  });

  async function scenario(
    drive: (transport: ScriptedTransport) => Promise<void>,
  ): Promise<Array<Pick<RequestEvent, 'jsonrpcId' | 'tool' | 'note' | 'errorMsg'>>> {
    const { bus, sink } = newInstrumentation();
    const transport = instrumentTransport(new ScriptedTransport(undefined), {
      bus,
      heartbeatIntervalMs: 0,
    });
    setHandler(transport, noop);
    await drive(transport);
    await transport.close();
    await bus.flush();
    const events = sink.ofType('request').map(({ jsonrpcId, tool, note, errorMsg }) => ({
      jsonrpcId,
      tool,
      note,
      errorMsg,
    }));
    await bus.shutdown();
    return events;
  }

  it('a rejected send ends its request as error', async () => {
    const events = await scenario(async (transport) => {
      transport.sendMode = 'reject';
      transport.sendError = new Error('write failed');
      await expect(transport.send(request(7, 'search'))).rejects.toBe(transport.sendError);
    });
    expect(events).toEqual([
      { jsonrpcId: '7', tool: 'search', note: 'error', errorMsg: 'write failed' },
    ]);
  });

  it('a send that throws synchronously ends its request as error, not closed', async () => {
    const events = await scenario((transport) => {
      transport.sendMode = 'throw';
      transport.sendError = new Error('write failed');
      expect(() => transport.send(request(7, 'search'))).toThrow(transport.sendError);
      return Promise.resolve();
    });
    expect(events).toEqual([
      { jsonrpcId: '7', tool: 'search', note: 'error', errorMsg: 'write failed' },
    ]);
  });

  it('a rejected batch ends every request in it as error, not closed', async () => {
    const events = await scenario(async (transport) => {
      transport.sendMode = 'reject';
      transport.sendError = new Error('write failed');
      const batch = [request(1, 'a'), request(2, 'b')] as unknown as JSONRPCMessage;
      await expect(transport.send(batch)).rejects.toBe(transport.sendError);
    });
    expect(events).toEqual([
      { jsonrpcId: '1', tool: 'a', note: 'error', errorMsg: 'write failed' },
      { jsonrpcId: '2', tool: 'b', note: 'error', errorMsg: 'write failed' },
    ]);
  });

  it('a failed send of a duplicate id does not end the request that holds the id', async () => {
    const events = await scenario(async (transport) => {
      await transport.send(request(1, 'first'));
      transport.sendMode = 'reject';
      transport.sendError = new Error('write failed');
      await expect(transport.send(request(1, 'second'))).rejects.toBe(transport.sendError);
      transport.deliver({ jsonrpc: '2.0', id: 1, result: { content: [] } }, undefined);
    });
    expect(events).toEqual([{ jsonrpcId: '1', tool: 'first', note: 'ok', errorMsg: undefined }]);
  });
});

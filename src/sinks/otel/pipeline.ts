import { createRequire } from 'node:module';
import {
  context,
  createContextKey,
  metrics,
  propagation,
  trace,
  type MeterProvider,
  type TextMapPropagator,
  type Tracer,
  type TracerProvider,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  CompositePropagator,
  W3CBaggagePropagator,
  W3CTraceContextPropagator,
  getBooleanFromEnv,
  getStringFromEnv,
  getStringListFromEnv,
} from '@opentelemetry/core';
import {
  defaultResource,
  envDetector,
  detectResources,
  resourceFromAttributes,
  type Resource,
} from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider as SdkTracerProvider,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtlpProto from '@opentelemetry/exporter-trace-otlp-proto';
import type * as SdkNode from '@opentelemetry/sdk-node';
import { printable, reportError, reportWarning } from '../../diagnostics.js';
import { CountingBatchSpanProcessor, type BatchProcessorOptions } from './batch-processor.js';
import { PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { StderrMetricExporter, StderrSpanExporter } from './stderr-exporter.js';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION, INSTRUMENTATION_NAME } from './semconv.js';
import { INSTRUMENTATION_VERSION } from '../../version.js';

export { INSTRUMENTATION_VERSION } from '../../version.js';

/** The resource attributes a session adds to the base resource. */
export type SessionAttributes = Readonly<Record<string, string>>;

/** Where spans go, and how a session's tracer is obtained. */
export interface TracingPipeline {
  /** `own`: we started it; `provided`: options.tracerProvider; `global`: the app's registered one; `disabled`. */
  readonly kind: 'own' | 'provided' | 'global' | 'disabled';
  /** Whether session attributes go into per-session Resources (else they go on spans). */
  readonly sessionResources: boolean;
  readonly propagator: TextMapPropagator;
  readonly meterProvider: MeterProvider | undefined;
  /** The tracer for a session (cached per session id), or the shared one. */
  tracer(sessionId: string | undefined, attributes: SessionAttributes | undefined): Tracer;
  /** Releases a session's tracer. */
  release(sessionId: string): void;
  /** Sessions holding a tracer (for leak checks). */
  readonly sessionTracers: number;
  readonly droppedSpans: number;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Options that shape the pipeline. */
export interface PipelineOptions {
  tracerProvider?: TracerProvider;
  meterProvider?: MeterProvider;
  serviceName?: string;
  serviceVersion?: string;
  /** Replaces the exporter chosen from the environment (tests, custom backends). */
  spanExporter?: SpanExporter;
  batch?: BatchProcessorOptions;
}

/**
 * Chooses where spans go, in the order the issue fixes: an explicit provider; the app's own
 * registered global provider (e.g. NodeSDK); otherwise a pipeline of our own, configured from
 * the standard OTEL_* environment variables, whose one batch processor every session's
 * provider shares.
 */
export function createPipeline(options: PipelineOptions): TracingPipeline {
  warnIfApiCopyBlind();
  ensureContextManager();
  const propagator = choosePropagator();
  if (options.tracerProvider) {
    return sharedPipeline(
      'provided',
      options.tracerProvider,
      propagator,
      options.meterProvider ?? globalMeterProvider(),
    );
  }
  if (getBooleanFromEnv('OTEL_SDK_DISABLED')) {
    return sharedPipeline('disabled', trace.getTracerProvider(), propagator, options.meterProvider);
  }
  const global = trace.getTracerProvider();
  if (options.spanExporter === undefined && isRegistered(global)) {
    return sharedPipeline(
      'global',
      global,
      propagator,
      options.meterProvider ?? globalMeterProvider(),
    );
  }
  return ownPipeline(options, propagator);
}

function sharedPipeline(
  kind: 'provided' | 'global' | 'disabled',
  provider: TracerProvider,
  propagator: TextMapPropagator,
  meterProvider: MeterProvider | undefined,
): TracingPipeline {
  const tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const flushable = provider as { forceFlush?: () => Promise<void> };
  return {
    kind,
    sessionResources: false,
    propagator,
    meterProvider,
    tracer: () => tracer,
    release: () => undefined,
    sessionTracers: 0,
    droppedSpans: 0,
    flush: async () => {
      // The app owns this provider; flushing it is harmless and gets our spans out on exit.
      await flushable.forceFlush?.();
    },
    shutdown: async () => {
      await flushable.forceFlush?.();
    },
  };
}

function ownPipeline(options: PipelineOptions, propagator: TextMapPropagator): TracingPipeline {
  const base = baseResource(options);
  const exporter = options.spanExporter ?? exporterFromEnv();
  const processor = exporter ? new CountingBatchSpanProcessor(exporter, options.batch) : undefined;
  const sampler = samplerFromEnv();
  const spanProcessors = processor ? [processor] : [];
  const shared = new SdkTracerProvider({ resource: base, sampler, spanProcessors });
  // With no exporter given, this is the "one line, OTLP out of the box" case: start the
  // OpenTelemetry Node SDK around our processor, so the app's own spans (a tool's fetch or DB
  // calls) share the pipeline and metrics export from the environment too.
  const sdk =
    options.spanExporter === undefined && processor
      ? startNodeSdk(base, sampler, processor)
      : undefined;
  const sharedTracer = shared.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
  const perSession = new Map<string, { tracer: Tracer; attributes: SessionAttributes }>();
  return {
    kind: 'own',
    sessionResources: true,
    propagator,
    meterProvider: options.meterProvider ?? globalMeterProvider(),
    tracer(sessionId, attributes) {
      if (sessionId === undefined || attributes === undefined) return sharedTracer;
      const cached = perSession.get(sessionId);
      if (cached && sameAttributes(cached.attributes, attributes)) return cached.tracer;
      // One provider per session so its spans carry base ∪ session in their Resource; all
      // share the one processor and exporter, so OTLP batches group spans by session. The
      // initialize span opens the session before its answer names the server and the
      // negotiated version: when what the session is known by changes, so does its Resource.
      const provider = new SdkTracerProvider({
        resource: base.merge(resourceFromAttributes(attributes)),
        sampler,
        spanProcessors,
      });
      const tracer = provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
      perSession.set(sessionId, { tracer, attributes });
      return tracer;
    },
    release(sessionId) {
      // Never shut a session provider down: that would shut the shared processor down.
      perSession.delete(sessionId);
    },
    get sessionTracers() {
      return perSession.size;
    },
    get droppedSpans() {
      return processor?.droppedSpans ?? 0;
    },
    flush: async () => {
      await processor?.forceFlush();
    },
    shutdown: async () => {
      perSession.clear();
      // Within the bus's 5 s shutdown bound, with room to count what did not make it.
      const done = await settles(sdk ? sdk.shutdown() : processor?.shutdown(), EXPORT_DEADLINE_MS);
      if (!done) processor?.abandon();
    },
  };
}

/**
 * The Node SDK's metric readers, unless the environment leaves them to it: `console` goes to
 * stderr (the SDK's writes to stdout, which a stdio server owns); with no metrics exporter and
 * no collector named, none at all.
 */
function metricReadersFromEnv(): { metricReaders?: MetricReader[] } {
  const exporters = getStringListFromEnv('OTEL_METRICS_EXPORTER') ?? [];
  if (exporters.includes('console')) {
    return {
      metricReaders: [new PeriodicExportingMetricReader({ exporter: new StderrMetricExporter() })],
    };
  }
  if (exporters.length > 0) return exporters.includes('none') ? { metricReaders: [] } : {};
  const collector =
    getStringFromEnv('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined ||
    getStringFromEnv('OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') !== undefined;
  return collector ? {} : { metricReaders: [] };
}

/**
 * How long shutdown may spend exporting before what is left is counted as dropped. The bus's
 * `shutdown()` (5 s) gives a sink's `flush()` at most 2 s and its `shutdown()` the rest, so this
 * must fit in 3 s with room to count; the export started by that flush goes on meanwhile, so
 * a healthy collector still gets ~4.5 s to take a burst.
 */
export const EXPORT_DEADLINE_MS = 2_500;

async function settles(work: Promise<unknown> | undefined, ms: number): Promise<boolean> {
  if (!work) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function sameAttributes(a: SessionAttributes, b: SessionAttributes): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

interface NodeSdkLike {
  start(): void;
  shutdown(): Promise<void>;
}

function startNodeSdk(
  resource: Resource,
  sampler: Sampler,
  processor: CountingBatchSpanProcessor,
): NodeSdkLike | undefined {
  try {
    const { NodeSDK } = requireModule<typeof SdkNode>('@opentelemetry/sdk-node');
    const sdk = new NodeSDK({
      resource,
      autoDetectResources: false,
      sampler,
      spanProcessors: [processor],
      textMapPropagator: defaultPropagator,
      // The Node SDK would export metrics and logs to localhost:4318 whether or not anything
      // listens there, retrying at exit. We produce no logs; metrics only when the environment
      // names a metrics exporter or a collector.
      ...metricReadersFromEnv(),
      // We produce no logs; the SDK's console log exporter would write to stdout.
      ...(getStringListFromEnv('OTEL_LOGS_EXPORTER')?.some((e) => e !== 'console' && e !== 'none')
        ? {}
        : { logRecordProcessors: [] }),
    });
    sdk.start();
    return sdk;
  } catch (error) {
    reportError('starting the OpenTelemetry Node SDK (spans still export through mcp-otel)', error);
    return undefined;
  }
}

/** base = SDK defaults ∪ our service name ∪ OTEL_RESOURCE_ATTRIBUTES / OTEL_SERVICE_NAME (env wins). */
function baseResource(options: PipelineOptions): Resource {
  const ours: Record<string, string> = {};
  if (options.serviceName) ours[ATTR_SERVICE_NAME] = options.serviceName;
  if (options.serviceVersion) ours[ATTR_SERVICE_VERSION] = options.serviceVersion;
  let resource = defaultResource().merge(resourceFromAttributes(ours));
  try {
    resource = resource.merge(detectResources({ detectors: [envDetector] }));
  } catch (error) {
    reportError('reading OTEL_RESOURCE_ATTRIBUTES', error);
  }
  return resource;
}

/** OTEL_TRACES_EXPORTER (otlp | console | none) and OTEL_EXPORTER_OTLP_*_PROTOCOL. */
function exporterFromEnv(): SpanExporter | undefined {
  const names = (getStringListFromEnv('OTEL_TRACES_EXPORTER') ?? []).filter((n) => n !== '');
  const chosen = names.length === 0 ? ['otlp'] : names;
  if (chosen.includes('none')) return undefined;
  if (chosen.includes('console')) return new StderrSpanExporter();
  if (!chosen.includes('otlp')) {
    reportWarning(`OTEL_TRACES_EXPORTER=${chosen.join(',')} is not supported; using otlp`);
  }
  const protocol =
    getStringFromEnv('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ??
    getStringFromEnv('OTEL_EXPORTER_OTLP_PROTOCOL') ??
    'http/protobuf';
  return createOtlpExporter(protocol);
}

/** Exporters are loaded lazily: an app that never exports never loads them. */
function createOtlpExporter(protocol: string): SpanExporter {
  if (protocol === 'http/json') {
    const { OTLPTraceExporter } = requireModule<typeof OtlpHttp>(
      '@opentelemetry/exporter-trace-otlp-http',
    );
    return new OTLPTraceExporter();
  }
  if (protocol !== 'http/protobuf') {
    reportWarning(`OTLP protocol ${protocol} is not supported by mcp-otel; using http/protobuf`);
  }
  const { OTLPTraceExporter } = requireModule<typeof OtlpProto>(
    '@opentelemetry/exporter-trace-otlp-proto',
  );
  return new OTLPTraceExporter();
}

function requireModule<T>(name: string): T {
  return moduleRequire(name) as T;
}

// A CommonJS require that works from both our ESM and CJS builds.
const moduleRequire = createRequire(import.meta.url);

/** OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, as the SDK spec defines them. */
function samplerFromEnv(): Sampler {
  const name = getStringFromEnv('OTEL_TRACES_SAMPLER') ?? 'parentbased_always_on';
  const arg = Number(getStringFromEnv('OTEL_TRACES_SAMPLER_ARG') ?? '1');
  const ratio = Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1;
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    default:
      reportWarning(`OTEL_TRACES_SAMPLER=${name} is not supported; using parentbased_always_on`);
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The global propagator when the app registered one; W3C trace context + baggage otherwise. */
function choosePropagator(): TextMapPropagator {
  try {
    if (propagation.fields().length > 0) return propagationApi;
  } catch {
    // fall through to ours
  }
  return defaultPropagator;
}

const defaultPropagator = new CompositePropagator({
  propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
});

/** The global propagation API as a TextMapPropagator (it delegates to whatever is registered). */
const propagationApi: TextMapPropagator = {
  inject: (ctx, carrier, setter) => propagation.inject(ctx, carrier, setter),
  extract: (ctx, carrier, getter) => propagation.extract(ctx, carrier, getter),
  fields: () => propagation.fields(),
};

/** Whether a real SDK provider is behind the API's global proxy. */
function isRegistered(provider: TracerProvider): boolean {
  const proxy = provider as { getDelegate?: () => TracerProvider };
  const delegate = typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : provider;
  return delegate.constructor.name !== 'NoopTracerProvider';
}

function globalMeterProvider(): MeterProvider | undefined {
  const provider = metrics.getMeterProvider();
  return provider.constructor.name === 'NoopMeterProvider' ? undefined : provider;
}

/** Where every copy of @opentelemetry/api 1.x keeps its globals (api/src/internal/global-utils.ts). */
const API_GLOBAL_KEY = Symbol.for('opentelemetry.js.api.1');

let warnedApiCopy = false;

/**
 * Two copies of @opentelemetry/api in one process share one global registry, but a copy ignores
 * what an older copy registered (the api's own compatibility rule). When the app's copy set
 * OpenTelemetry up and the copy we load is newer, the app's provider, propagator and context
 * manager are invisible to us, and our spans would silently leave the app's traces. Say so, once.
 */
function warnIfApiCopyBlind(): void {
  const registry = (globalThis as Record<symbol, unknown>)[API_GLOBAL_KEY] as
    { version?: unknown; trace?: unknown } | undefined;
  if (warnedApiCopy || registry?.trace === undefined) return;
  if (trace.getTracerProvider() === registry.trace) return;
  warnedApiCopy = true;
  reportWarning(
    `another copy of @opentelemetry/api (${printable(registry.version)}) set up OpenTelemetry in this process and the newer copy mcp-otel loads cannot use it, so mcp-otel's spans will not join the app's traces; install one @opentelemetry/api version (npm ls @opentelemetry/api)`,
  );
}

const probeKey = createContextKey('mcp-otel.context-probe');

/**
 * Without a context manager, `context.with()` does nothing and no span can be active while a
 * handler runs. Register AsyncLocalStorage's when the app has none.
 */
function ensureContextManager(): void {
  const probe = context.active().setValue(probeKey, true);
  const works = context.with(probe, () => context.active().getValue(probeKey) === true);
  if (works) return;
  try {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  } catch (error) {
    reportError('registering a context manager', error);
  }
}

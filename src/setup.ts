import { getDefaultBus, type EventBus } from './event-bus.js';
import { reportError, reportWarning } from './diagnostics.js';
import type { InstrumentOptions } from './options.js';
import { createOtelSink } from './sinks/otel/otel-sink-loader.js';
import type { OtelSink, OtelSinkOptions } from './sinks/otel/otel-sink.js';

let defaultOtelSink: OtelSink | undefined;
let defaultOtelOptions: OtelSinkOptions | undefined;
/** Set once creating the process-wide OTel sink failed: reported once, not per instrument(). */
let defaultOtelFailed = false;

const OTEL_OPTION_KEYS = [
  'tracerProvider',
  'meterProvider',
  'serviceName',
  'serviceVersion',
  'captureContent',
  'captureArguments',
  'captureResults',
  'maxContentBytes',
  'maxSchemaPayloadBytes',
  'redactKeys',
  'redact',
  'resourceUriInSpanName',
  'maxDistinctNames',
  'maxNameLength',
  'spanExporter',
  'batch',
  'propagate',
] as const satisfies ReadonlyArray<keyof OtelSinkOptions>;

// Every OtelSinkOptions key must be listed above, or instrument() would silently ignore it.
type Unlisted = Exclude<keyof OtelSinkOptions, (typeof OTEL_OPTION_KEYS)[number]>;
const everyKeyListed: Unlisted extends never ? true : Unlisted = true;
void everyKeyListed;

/**
 * The bus an `instrument()` call uses, with its sinks attached: `options.bus` if given; else
 * the process-wide bus, with `options.sinks` or, when none are given, the process-wide OTel
 * sink (created on first use from these options).
 */
export function resolveBus(
  options: InstrumentOptions | undefined,
  serverName: string | undefined,
): EventBus {
  if (options?.bus) {
    for (const sink of options.sinks ?? []) options.bus.addSink(sink);
    return options.bus;
  }
  const bus = getDefaultBus();
  if (options?.sinks) {
    for (const sink of options.sinks) bus.addSink(sink);
    return bus;
  }
  const otel = getDefaultOtelSink(options, serverName);
  if (otel) bus.addSink(otel);
  return bus;
}

function getDefaultOtelSink(
  options: InstrumentOptions | undefined,
  serverName: string | undefined,
): OtelSink | undefined {
  const requested = pickOtelOptions(options);
  if (defaultOtelSink) {
    if (defaultOtelOptions && differs(defaultOtelOptions, requested)) {
      reportWarning(
        'the process-wide OpenTelemetry sink was created by an earlier instrument() call; its OpenTelemetry options stay as they were',
      );
    }
    return defaultOtelSink;
  }
  if (defaultOtelFailed) return undefined;
  try {
    defaultOtelOptions = requested;
    defaultOtelSink = createOtelSink({
      ...requested,
      serviceName: requested.serviceName ?? serverName,
    });
  } catch (error) {
    defaultOtelFailed = true;
    reportError('no OpenTelemetry spans or metrics', error);
  }
  return defaultOtelSink;
}

function pickOtelOptions(options: InstrumentOptions | undefined): OtelSinkOptions {
  const picked: Record<string, unknown> = {};
  if (!options) return picked;
  for (const key of OTEL_OPTION_KEYS) {
    if (options[key] !== undefined) picked[key] = options[key];
  }
  return picked;
}

/** Whether `b` asks for something `a` did not set up (keys `b` leaves unset ask for nothing). */
function differs(a: OtelSinkOptions, b: OtelSinkOptions): boolean {
  for (const key of OTEL_OPTION_KEYS) if (b[key] !== undefined && a[key] !== b[key]) return true;
  return false;
}

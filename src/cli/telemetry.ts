import { EventBus, type EventSink } from '../event-bus.js';
import type { InstrumentOptions } from '../options.js';
import { createConsoleSink } from '../sinks/console-sink.js';
import { createJsonlSink } from '../sinks/jsonl-sink.js';
import { reportError } from '../diagnostics.js';
import { createOtelSink } from '../sinks/otel/otel-sink-loader.js';
import type { OtelSink } from '../sinks/otel/otel-sink.js';
import type { CliOptions } from './args.js';

/** What a CLI command instruments with: its own bus (signals are the command's business). */
export interface CliTelemetry {
  readonly bus: EventBus;
  readonly otel: OtelSink | undefined;
  /** Options for instrumentTransport: the bus, and the flags that are middleware options. */
  readonly instrumentOptions: InstrumentOptions;
}

/** The OTel sink, or one diagnostic line and none: the proxy still forwards every byte. */
function cliOtelSink(options: CliOptions): OtelSink | undefined {
  try {
    return createOtelSink({
      serviceName: options.serviceName,
      captureContent: options.captureContent,
      // --no-propagate: messages the middleware sends on (server→client requests under
      // wrap) must not be given trace context either.
      propagate: !options.noPropagate,
    });
  } catch (error) {
    reportError('no OpenTelemetry spans or metrics', error);
    return undefined;
  }
}

/** Builds the sinks the flags ask for: OTel (unless --no-otel), console, JSONL. */
export function createCliTelemetry(options: CliOptions): CliTelemetry {
  const sinks: EventSink[] = [];
  const otel = options.noOtel ? undefined : cliOtelSink(options);
  if (otel) sinks.push(otel);
  if (options.console) sinks.push(createConsoleSink({ format: 'pretty' }));
  if (options.jsonl) sinks.push(createJsonlSink({ path: options.jsonl }));
  const bus = new EventBus({ sinks });
  return {
    bus,
    otel,
    instrumentOptions: {
      bus,
      ...(options.heartbeatIntervalMs !== undefined && {
        heartbeatIntervalMs: options.heartbeatIntervalMs,
      }),
    },
  };
}

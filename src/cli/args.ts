/**
 * The `mcp-otel` command line: one parser for every command, so `--help` and the errors are
 * generated from the same table that does the parsing.
 */

/** Thrown for bad command lines: printed as one line, exit code 2. */
export class UsageError extends Error {}

export type Command = 'wrap' | 'proxy' | 'help' | 'version';

/** Flags shared by every command, and the proxy's own. */
export interface CliOptions {
  readonly command: Command;
  /** wrap: the server command and its arguments (after `--`). */
  readonly childCommand: readonly string[];
  /** Print events to stderr, one pretty line each. */
  readonly console: boolean;
  /** Append events as JSON lines to this file. */
  readonly jsonl: string | undefined;
  /** Record tool arguments and results on spans. */
  readonly captureContent: boolean;
  /** `service.name`; OTEL_SERVICE_NAME wins. */
  readonly serviceName: string | undefined;
  /** Turn OpenTelemetry export off (events still reach --console/--jsonl). */
  readonly noOtel: boolean;
  /** wrap: do not write trace context into forwarded messages' `_meta` (byte-exact forwarding). */
  readonly noPropagate: boolean;
  /** Heartbeat period in ms; 0 turns heartbeats off. */
  readonly heartbeatIntervalMs: number | undefined;
  /** proxy: upstream MCP endpoint URL. */
  readonly upstream: string | undefined;
  /** proxy: port to listen on. */
  readonly port: number;
  /** proxy: address to bind. */
  readonly host: string;
  /** proxy: whether --host was given explicitly (needed to bind a non-loopback address). */
  readonly hostGiven: boolean;
}

/** Default proxy port. */
export const DEFAULT_PROXY_PORT = 8787;
/** Default proxy bind address: loopback only. */
export const DEFAULT_PROXY_HOST = '127.0.0.1';

interface FlagSpec {
  readonly name: string;
  readonly value?: string;
  readonly commands: readonly Command[];
  readonly help: string;
}

/** Every flag, in `--help` order. */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: '--console',
    commands: ['wrap', 'proxy'],
    help: 'print every event to stderr, one line each',
  },
  {
    name: '--jsonl',
    value: '<file>',
    commands: ['wrap', 'proxy'],
    help: 'append every event as a JSON line to <file>',
  },
  {
    name: '--capture-content',
    commands: ['wrap', 'proxy'],
    help: 'record tool arguments and results on spans (redacted, size-capped)',
  },
  {
    name: '--service-name',
    value: '<name>',
    commands: ['wrap', 'proxy'],
    help: 'service.name of the spans (default: the server name; OTEL_SERVICE_NAME wins)',
  },
  {
    name: '--no-otel',
    commands: ['wrap', 'proxy'],
    help: 'do not export OpenTelemetry; events only',
  },
  {
    name: '--heartbeat-interval',
    value: '<ms>',
    commands: ['wrap', 'proxy'],
    help: 'heartbeat period in ms, 0 = off (default 30000)',
  },
  {
    name: '--no-propagate',
    commands: ['wrap'],
    help: "forward every byte unchanged: do not add trace context to messages' _meta",
  },
  {
    name: '--upstream',
    value: '<url>',
    commands: ['proxy'],
    help: 'the MCP endpoint to proxy (required)',
  },
  {
    name: '--port',
    value: '<port>',
    commands: ['proxy'],
    help: `port to listen on (default ${DEFAULT_PROXY_PORT})`,
  },
  {
    name: '--host',
    value: '<address>',
    commands: ['proxy'],
    help: `address to bind (default ${DEFAULT_PROXY_HOST}; a non-loopback address must be given explicitly)`,
  },
];

/** Parses argv (without node and the script). Throws {@link UsageError}. */
export function parseArgs(argv: readonly string[]): CliOptions {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    return defaults('help');
  }
  if (first === '--version' || first === '-v' || first === 'version') return defaults('version');
  if (first !== 'wrap' && first !== 'proxy') {
    throw new UsageError(
      `unknown command '${first}' (expected wrap or proxy; see mcp-otel --help)`,
    );
  }
  const command: Command = first;
  const options = { ...defaults(command) } as { -readonly [K in keyof CliOptions]: CliOptions[K] };
  let i = 0;
  while (i < rest.length) {
    const arg = rest[i] ?? '';
    if (arg === '--') {
      options.childCommand = rest.slice(i + 1);
      break;
    }
    if (arg === '--help' || arg === '-h') return defaults('help');
    const [name, inline] =
      arg.startsWith('--') && arg.includes('=') ? splitOnce(arg) : [arg, undefined];
    const spec = FLAGS.find((f) => f.name === name);
    if (!spec) {
      throw new UsageError(
        arg.startsWith('-')
          ? `unknown flag ${name} for ${command} (see mcp-otel --help)`
          : `unexpected argument '${arg}' (put the server command after --)`,
      );
    }
    if (!spec.commands.includes(command))
      throw new UsageError(`${name} does not apply to ${command}`);
    let value: string | undefined;
    if (spec.value) {
      value = inline ?? rest[i + 1];
      if (value === undefined || (inline === undefined && value.startsWith('--'))) {
        throw new UsageError(`${name} needs a value ${spec.value}`);
      }
      if (inline === undefined) i++;
    } else if (inline !== undefined) {
      throw new UsageError(`${name} takes no value`);
    }
    apply(options, name, value);
    i++;
  }
  if (command === 'wrap' && options.childCommand.length === 0) {
    throw new UsageError(
      'wrap needs the server command after --, e.g. mcp-otel wrap -- node server.js',
    );
  }
  if (command === 'proxy') {
    if (options.childCommand.length > 0) throw new UsageError('proxy takes no command after --');
    if (options.upstream === undefined) throw new UsageError('proxy needs --upstream <url>');
  }
  return options;
}

function apply(
  options: { -readonly [K in keyof CliOptions]: CliOptions[K] },
  name: string,
  value: string | undefined,
): void {
  switch (name) {
    case '--console':
      options.console = true;
      return;
    case '--jsonl':
      // `--jsonl=` would otherwise reach the sink as a path and fail there, with exit code 1.
      if (!value) throw new UsageError('--jsonl needs a file name');
      options.jsonl = value;
      return;
    case '--capture-content':
      options.captureContent = true;
      return;
    case '--service-name':
      if (!value) throw new UsageError('--service-name needs a non-empty name');
      options.serviceName = value;
      return;
    case '--no-otel':
      options.noOtel = true;
      return;
    case '--no-propagate':
      options.noPropagate = true;
      return;
    case '--heartbeat-interval': {
      const ms = wholeNumber(value);
      if (ms === undefined)
        throw new UsageError(
          `--heartbeat-interval must be a whole number of ms >= 0, got '${value}'`,
        );
      options.heartbeatIntervalMs = ms;
      return;
    }
    case '--upstream': {
      let url: URL;
      try {
        url = new URL(value ?? '');
      } catch {
        throw new UsageError(`--upstream must be an http(s) URL, got '${value}'`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw new UsageError(`--upstream must be an http(s) URL, got '${value}'`);
      }
      options.upstream = url.href;
      return;
    }
    case '--port': {
      const port = wholeNumber(value);
      if (port === undefined || port > 65_535)
        throw new UsageError(`--port must be 0-65535, got '${value}'`);
      options.port = port;
      return;
    }
    case '--host':
      if (!value) throw new UsageError('--host needs an address');
      options.host = value;
      options.hostGiven = true;
      return;
    default:
      throw new UsageError(`unknown flag ${name}`);
  }
}

/**
 * Digits only: Number() would take '' and ' ' as 0 (`--port=` binding a random port,
 * `--heartbeat-interval=` turning heartbeats off), and '1e3' or '0x10' as numbers.
 */
function wholeNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

function splitOnce(arg: string): [string, string] {
  const at = arg.indexOf('=');
  return [arg.slice(0, at), arg.slice(at + 1)];
}

function defaults(command: Command): CliOptions {
  return {
    command,
    childCommand: [],
    console: false,
    jsonl: undefined,
    captureContent: false,
    serviceName: undefined,
    noOtel: false,
    noPropagate: false,
    heartbeatIntervalMs: undefined,
    upstream: undefined,
    port: DEFAULT_PROXY_PORT,
    host: DEFAULT_PROXY_HOST,
    hostGiven: false,
  };
}

/** The `--help` text. */
export function helpText(version: string): string {
  const lines = [
    `mcp-otel ${version} — OpenTelemetry for any MCP server`,
    '',
    'Usage:',
    '  mcp-otel wrap [flags] -- <command> [args...]   instrument a stdio MCP server (any language)',
    '  mcp-otel proxy --upstream <url> [flags]        instrument a Streamable HTTP / SSE MCP server as a reverse proxy',
    '  node --import mcp-otel/register app.js         instrument a Node MCP server without changing its code',
    '  mcp-otel --help | --version',
    '',
    'Flags:',
  ];
  const width = Math.max(...FLAGS.map((f) => (f.value ? `${f.name} ${f.value}` : f.name).length));
  for (const flag of FLAGS) {
    const left = flag.value ? `${flag.name} ${flag.value}` : flag.name;
    const scope = flag.commands.length === 1 ? ` (${flag.commands[0]} only)` : '';
    lines.push(`  ${left.padEnd(width)}  ${flag.help}${scope}`);
  }
  lines.push(
    '',
    'Environment (standard OpenTelemetry variables):',
    '  OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,',
    '  OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf | http/json), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,',
    '  OTEL_TRACES_EXPORTER (otlp | console | none), OTEL_TRACES_SAMPLER, OTEL_TRACES_SAMPLER_ARG,',
    '  OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_SDK_DISABLED',
    '',
    'Docs: docs/cli.md',
  );
  return lines.join('\n');
}

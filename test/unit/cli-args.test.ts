/**
 * The `mcp-otel` command line: every flag in both spellings, every way a command line can be
 * wrong (one-line UsageError), and the real command's exit codes and streams for --help and a
 * bad flag.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PROXY_HOST,
  DEFAULT_PROXY_PORT,
  FLAGS,
  helpText,
  parseArgs,
  UsageError,
  type CliOptions,
} from '../../src/cli/args.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

const WRAP_TAIL = ['--', 'node', 'server.js'];
const PROXY_UPSTREAM = ['--upstream', 'http://127.0.0.1:9/mcp'];

/** Parses and returns the error it must throw. */
function usageError(argv: readonly string[]): UsageError {
  let thrown: unknown;
  try {
    parseArgs(argv);
  } catch (error) {
    thrown = error;
  }
  expect(thrown, `expected a UsageError for ${JSON.stringify(argv)}`).toBeInstanceOf(UsageError);
  const error = thrown as UsageError;
  expect(error.message).not.toContain('\n');
  expect(error.message.length).toBeGreaterThan(0);
  return error;
}

describe('parseArgs: commands', () => {
  it.each([[[]], [['help']], [['--help']], [['-h']], [['wrap', '--help']], [['proxy', '-h']]])(
    '%j is help',
    (argv) => {
      expect(parseArgs(argv).command).toBe('help');
    },
  );

  it.each([[['--version']], [['-v']], [['version']]])('%j is version', (argv) => {
    expect(parseArgs(argv).command).toBe('version');
  });

  it('wrap: the command after -- is kept whole, flags in it are the server’s', () => {
    const options = parseArgs(['wrap', '--', 'uvx', 'server', '--console', '--', '-x']);
    expect(options.command).toBe('wrap');
    expect(options.childCommand).toEqual(['uvx', 'server', '--console', '--', '-x']);
    expect(options.console).toBe(false);
  });

  it('defaults: nothing on, loopback proxy on the default port', () => {
    const options = parseArgs(['wrap', ...WRAP_TAIL]);
    expect(options).toEqual({
      command: 'wrap',
      childCommand: ['node', 'server.js'],
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
    } satisfies CliOptions);
  });
});

/** One case per flag: argv for it (space form) and what it must set. */
const FLAG_CASES: Record<
  string,
  { command: 'wrap' | 'proxy'; value?: string; expected: Partial<CliOptions> }
> = {
  '--console': { command: 'wrap', expected: { console: true } },
  '--jsonl': {
    command: 'wrap',
    value: '/tmp/events.jsonl',
    expected: { jsonl: '/tmp/events.jsonl' },
  },
  '--capture-content': { command: 'wrap', expected: { captureContent: true } },
  '--service-name': { command: 'wrap', value: 'weather', expected: { serviceName: 'weather' } },
  '--no-otel': { command: 'proxy', expected: { noOtel: true } },
  '--heartbeat-interval': { command: 'wrap', value: '0', expected: { heartbeatIntervalMs: 0 } },
  '--no-propagate': { command: 'wrap', expected: { noPropagate: true } },
  '--upstream': {
    command: 'proxy',
    value: 'https://example.test:8443/mcp',
    expected: { upstream: 'https://example.test:8443/mcp' },
  },
  '--port': { command: 'proxy', value: '0', expected: { port: 0 } },
  '--host': { command: 'proxy', value: '0.0.0.0', expected: { host: '0.0.0.0', hostGiven: true } },
};

function argvFor(name: string, form: 'space' | 'equals'): string[] {
  const spec = FLAG_CASES[name]!;
  const flag =
    spec.value === undefined
      ? [name]
      : form === 'space'
        ? [name, spec.value]
        : [`${name}=${spec.value}`];
  const required = spec.command === 'proxy' && name !== '--upstream' ? PROXY_UPSTREAM : [];
  return [spec.command, ...flag, ...required, ...(spec.command === 'wrap' ? WRAP_TAIL : [])];
}

describe('parseArgs: flags', () => {
  it('every flag in FLAGS has a case here (a new flag needs a test)', () => {
    expect(Object.keys(FLAG_CASES).sort()).toEqual(FLAGS.map((f) => f.name).sort());
  });

  it.each(FLAGS.map((f) => [f.name]))('%s sets its option', (name) => {
    const options = parseArgs(argvFor(name, 'space'));
    expect(options).toMatchObject(FLAG_CASES[name]!.expected);
  });

  it.each(FLAGS.filter((f) => f.value !== undefined).map((f) => [f.name]))(
    '%s=value is the same as %s value',
    (name) => {
      expect(parseArgs(argvFor(name, 'equals'))).toEqual(parseArgs(argvFor(name, 'space')));
    },
  );

  it('--flag=value keeps everything after the first =', () => {
    expect(parseArgs(['wrap', '--service-name=a=b', ...WRAP_TAIL]).serviceName).toBe('a=b');
  });

  it('flags combine, the last of a repeated flag wins', () => {
    const options = parseArgs([
      'wrap',
      '--console',
      '--jsonl',
      'a.jsonl',
      '--capture-content',
      '--no-propagate',
      '--heartbeat-interval=5000',
      '--jsonl=b.jsonl',
      ...WRAP_TAIL,
    ]);
    expect(options).toMatchObject({
      console: true,
      jsonl: 'b.jsonl',
      captureContent: true,
      noPropagate: true,
      heartbeatIntervalMs: 5000,
    });
  });

  it('--upstream is normalised to an absolute URL', () => {
    expect(parseArgs(['proxy', '--upstream', 'http://127.0.0.1:3000']).upstream).toBe(
      'http://127.0.0.1:3000/',
    );
  });
});

describe('parseArgs: bad command lines are one-line UsageErrors', () => {
  it.each<[string, string[], RegExp]>([
    ['unknown command', ['serve'], /unknown command 'serve'/],
    ['unknown flag', ['wrap', '--verbose', ...WRAP_TAIL], /unknown flag --verbose/],
    ['unknown flag, = form', ['wrap', '--verbose=1', ...WRAP_TAIL], /unknown flag --verbose\b/],
    ['unknown short flag', ['wrap', '-x', ...WRAP_TAIL], /unknown flag -x/],
    ['a server command without --', ['wrap', 'node', 'server.js'], /after --/],
    ['wrap without a command', ['wrap'], /wrap needs the server command/],
    ['wrap with nothing after --', ['wrap', '--console', '--'], /wrap needs the server command/],
    ['missing value at the end', ['wrap', '--jsonl'], /--jsonl needs a value/],
    [
      'a flag where a value belongs',
      ['wrap', '--jsonl', '--console', ...WRAP_TAIL],
      /--jsonl needs a value/,
    ],
    [
      '-- where a value belongs',
      ['wrap', '--service-name', ...WRAP_TAIL],
      /--service-name needs a value/,
    ],
    ['empty = value for a file', ['wrap', '--jsonl=', ...WRAP_TAIL], /--jsonl needs a file name/],
    ['empty = value for a name', ['wrap', '--service-name=', ...WRAP_TAIL], /--service-name/],
    ['a value for a switch', ['wrap', '--console=yes', ...WRAP_TAIL], /--console takes no value/],
    [
      'negative interval',
      ['wrap', '--heartbeat-interval', '-5', ...WRAP_TAIL],
      /--heartbeat-interval/,
    ],
    ['fractional interval', ['wrap', '--heartbeat-interval=1.5', ...WRAP_TAIL], /whole number/],
    ['empty interval', ['wrap', '--heartbeat-interval=', ...WRAP_TAIL], /whole number/],
    ['exponent interval', ['wrap', '--heartbeat-interval=1e3', ...WRAP_TAIL], /whole number/],
    [
      'wrap flag on proxy',
      ['proxy', '--no-propagate', ...PROXY_UPSTREAM],
      /--no-propagate does not apply to proxy/,
    ],
    ['proxy flag on wrap', ['wrap', '--port', '80', ...WRAP_TAIL], /--port does not apply to wrap/],
    ['proxy without --upstream', ['proxy'], /proxy needs --upstream/],
    ['proxy with a command', ['proxy', ...PROXY_UPSTREAM, '--', 'node'], /no command after --/],
    ['upstream not a URL', ['proxy', '--upstream', 'nope'], /--upstream must be an http\(s\) URL/],
    [
      'upstream not http',
      ['proxy', '--upstream', 'ftp://h/x'],
      /--upstream must be an http\(s\) URL/,
    ],
    [
      'port out of range',
      ['proxy', ...PROXY_UPSTREAM, '--port', '65536'],
      /--port must be 0-65535/,
    ],
    ['empty port', ['proxy', ...PROXY_UPSTREAM, '--port='], /--port must be 0-65535/],
    ['hex port', ['proxy', ...PROXY_UPSTREAM, '--port=0x50'], /--port must be 0-65535/],
    ['empty host', ['proxy', ...PROXY_UPSTREAM, '--host='], /--host needs an address/],
  ])('%s', (_name, argv, message) => {
    expect(usageError(argv).message).toMatch(message);
  });
});

describe('helpText', () => {
  const text = helpText('9.9.9');

  it('lists every flag with its value and its help line', () => {
    for (const flag of FLAGS) {
      const left = flag.value ? `${flag.name} ${flag.value}` : flag.name;
      const line = text.split('\n').find((l) => l.trimStart().startsWith(left));
      expect(line, `no help line for ${flag.name}`).toBeDefined();
      expect(line).toContain(flag.help);
    }
  });

  it('names the commands, the version and the OTEL_* variables', () => {
    expect(text).toContain('mcp-otel 9.9.9');
    expect(text).toMatch(/mcp-otel wrap \[flags\] -- <command>/);
    expect(text).toMatch(/mcp-otel proxy --upstream <url>/);
    expect(text).toContain('OTEL_EXPORTER_OTLP_ENDPOINT');
    expect(text).toContain('OTEL_TRACES_EXPORTER');
  });
});

/** Runs the real command (a child process), bounded. */
function runCli(
  argv: readonly string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...argv], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`mcp-otel ${argv.join(' ')} did not exit within 10 s; stderr: ${stderr}`));
    }, 10_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('the mcp-otel command', () => {
  it('a bad flag: one line on stderr, nothing on stdout, exit code 2', async () => {
    const { code, stdout, stderr } = await runCli(['wrap', '--bogus', '--', 'node', 'x.js']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe('mcp-otel: unknown flag --bogus for wrap (see mcp-otel --help)\n');
  });

  it('an unknown command: one line, exit code 2', async () => {
    const { code, stdout, stderr } = await runCli(['serve']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^mcp-otel: unknown command 'serve'/);
  });

  it('--help lists every flag on stderr, stdout stays empty, exit code 0', async () => {
    const { code, stdout, stderr } = await runCli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    for (const flag of FLAGS) expect(stderr).toContain(flag.name);
    expect(stderr).toContain('Usage:');
  });
});

#!/usr/bin/env node
// The consumer matrix (issue 8): what `npm install mcp-otel` gives a user must work on every
// Node LTS, in ES module and CommonJS apps, with both MCP SDK generations.
//
//   1. `npm pack` (prepare builds dist/), then the tarball's file list, size, publint and
//      @arethetypeswrong/cli.
//   2. For each Node version (the one running this script, plus node@22 / node@24 installed from
//      the npm registry into the work dir: `npm install node@22` ships a real binary), fresh
//      consumer projects in a temp dir OUTSIDE the repo (so nothing resolves from the repo's
//      node_modules), each with its own package.json, installing the tarball with npm running
//      under that Node (npm picks dependency versions by the running Node's engines), once per
//      install profile, reused by every scenario of that profile.
//   3. Scenarios: real apps (test/consumer/fixtures) exporting OTLP/JSON to a receiver in this
//      process (test/consumer/otlp-json-receiver.mjs), asserting which spans arrived.
//   4. With --integration, the repo's integration tests (vitest, this checkout's node_modules)
//      under each Node version other than this script's own (npm test runs them under it).
//
// Usage: node scripts/consumer-matrix.mjs [--node 20,22,24] [--integration] [--tarball FILE]
//        [--only REGEX] [--bail] [--keep] [--work DIR]
// Prints `consumer matrix: N passed, M failed` last; exits 1 when anything failed.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  SPAN_KIND_CLIENT,
  SPAN_KIND_SERVER,
  startReceiver,
} from '../test/consumer/otlp-json-receiver.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'consumer', 'fixtures');
const BIN = join(ROOT, 'node_modules', '.bin');

/** A child that has not finished by then is killed and its step fails. */
const RUN_TIMEOUT_MS = 90_000;
const INSTALL_TIMEOUT_MS = 300_000;
const INTEGRATION_TIMEOUT_MS = 600_000;
/** How long spans may take to reach the receiver after the app exited (they should be there). */
const SPAN_WAIT_MS = 5_000;
/** What the tarball may contain besides dist/. */
const ALLOWED_TOP_LEVEL = new Set(['package.json', 'README.md', 'LICENSE']);

const { values: args } = parseArgs({
  options: {
    node: { type: 'string', default: '20,22,24' },
    integration: { type: 'boolean', default: false },
    tarball: { type: 'string' },
    only: { type: 'string' },
    bail: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    work: { type: 'string' },
  },
});

const started = Date.now();
const results = [];
const only = args.only ? new RegExp(args.only) : undefined;
const work = args.work ? resolve(args.work) : mkdtempSync(join(tmpdir(), 'mcp-otel-consumers-'));
mkdirSync(work, { recursive: true });

class Bail extends Error {}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function record(name, error, ms) {
  results.push({ name, error });
  if (error === undefined) {
    console.log(`  ok   ${name} (${seconds(ms)})`);
    return;
  }
  console.log(`  FAIL ${name} (${seconds(ms)})`);
  for (const line of String(error).trimEnd().split('\n')) console.log(`       ${line}`);
  if (args.bail) throw new Bail();
}

/** Runs a step, records it, and returns whether it passed. */
async function step(name, fn) {
  if (only && !only.test(name)) return true;
  const t0 = Date.now();
  try {
    await fn();
    record(name, undefined, Date.now() - t0);
    return true;
  } catch (error) {
    if (error instanceof Bail) throw error;
    record(name, error instanceof Error ? error.message : String(error), Date.now() - t0);
    return false;
  }
}

/** The environment of every child: ours without OTel, mcp-otel, npm-lifecycle or Node settings. */
function baseEnv(nodeBin, extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(OTEL_|MCP_OTEL_|npm_|NODE_OPTIONS$|NODE_PATH$)/i.test(key)) continue;
    env[key] = value;
  }
  env.PATH = [nodeBin, env.PATH].filter(Boolean).join(delimiter);
  env.npm_config_loglevel = 'error';
  env.npm_config_update_notifier = 'false';
  return { ...env, ...extra };
}

/** Spawns a command; resolves with its exit status and output, never rejects. */
function run(command, argv, { cwd, env, timeoutMs = RUN_TIMEOUT_MS }) {
  return new Promise((resolvePromise) => {
    const child = spawn(command, argv, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolvePromise({ code: -1, stdout, stderr: stderr + String(error), timedOut });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: code ?? (signal ? -1 : 0), signal, stdout, stderr, timedOut });
    });
  });
}

function tail(text, lines = 15) {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** Throws with the output's tail unless the child exited 0. */
function expectSuccess(what, result) {
  if (result.timedOut) throw new Error(`${what}: killed after ${seconds(RUN_TIMEOUT_MS)}`);
  if (result.code !== 0) {
    throw new Error(
      `${what}: exit ${result.code}${result.signal ? ` (${result.signal})` : ''}\n` +
        tail(`${result.stdout}\n${result.stderr}`),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The package

async function packTarball() {
  if (args.tarball) return resolve(args.tarball);
  const result = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: baseEnv(dirname(process.execPath)),
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
  expectSuccess('npm pack', result);
  const [info] = JSON.parse(result.stdout.slice(result.stdout.indexOf('[')));
  return join(work, info.filename);
}

async function checkPackage(tarball) {
  const unpacked = join(work, 'unpacked');
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked);
  const extract = await run('tar', ['-xzf', tarball, '-C', unpacked], {
    cwd: work,
    env: process.env,
  });
  expectSuccess('tar -x', extract);
  await step('package: contents', async () => {
    const listing = await run('tar', ['-tzvf', tarball], { cwd: work, env: process.env });
    expectSuccess('tar -t', listing);
    const entries = listing.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const parts = line.trim().split(/\s+/);
        return {
          size: Number(parts[2]),
          path: parts
            .slice(5)
            .join(' ')
            .replace(/^package\//, ''),
        };
      });
    const files = entries.filter((e) => !e.path.endsWith('/'));
    const unpackedBytes = files.reduce((sum, e) => sum + e.size, 0);
    const { size } = statSync(tarball);
    const topLevel = [...new Set(files.map((e) => e.path.split('/')[0]))].sort();
    console.log(
      `  tarball ${tarball}: ${files.length} files, ${(size / 1024).toFixed(0)} KiB packed, ` +
        `${(unpackedBytes / 1024).toFixed(0)} KiB unpacked; top level: ${topLevel.join(', ')}`,
    );
    const stray = files.filter(
      (e) => !e.path.startsWith('dist/') && !ALLOWED_TOP_LEVEL.has(e.path),
    );
    if (stray.length > 0) {
      throw new Error(
        `files outside dist/ and ${[...ALLOWED_TOP_LEVEL].join(', ')}:\n` +
          stray.map((e) => e.path).join('\n'),
      );
    }
    const missing = [...ALLOWED_TOP_LEVEL].filter((name) => !files.some((e) => e.path === name));
    if (missing.length > 0) throw new Error(`missing from the tarball: ${missing.join(', ')}`);
  });
  await step('package: publint', async () => {
    // --pack false: lint exactly the files the tarball holds.
    const result = await run(
      join(BIN, 'publint'),
      [join(unpacked, 'package'), '--pack', 'false', '--strict'],
      {
        cwd: ROOT,
        env: baseEnv(dirname(process.execPath)),
      },
    );
    expectSuccess('publint', result);
  });
  await step('package: arethetypeswrong', async () => {
    // node16 profile: node10 resolution (TypeScript's legacy `moduleResolution: node`) cannot
    // see the `mcp-otel/register` subpath of an exports map, and that subpath is a side-effect
    // entry for `node --import`, with nothing to import from.
    const result = await run(
      join(BIN, 'attw'),
      [tarball, '--profile', 'node16', '--format', 'table-flipped'],
      {
        cwd: ROOT,
        env: baseEnv(dirname(process.execPath), { NO_COLOR: '1', FORCE_COLOR: '0' }),
      },
    );
    expectSuccess('attw', result);
  });
}

// ---------------------------------------------------------------------------------------------
// 2. Node versions

/**
 * The Node binary directory for a major version: ours, or one from the npm registry. The
 * registry's `node@22` is a shim whose install script fetches `node-<platform>-<arch>@22`, a
 * plain package with the binary in `bin/`; we install that one directly, so no install script
 * has to run (npm is moving towards not running them by default), and fall back to `node@22`.
 */
async function nodeFor(major) {
  const current = Number(process.versions.node.split('.')[0]);
  if (major === current) return { bin: dirname(process.execPath), version: process.version };
  const dir = join(work, 'nodes', `node${major}`);
  const bin = join(dir, 'node_modules', '.bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"private":true}\n');
    const npmInstall = (spec) =>
      run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', spec], {
        cwd: dir,
        env: baseEnv(dirname(process.execPath)),
        timeoutMs: INSTALL_TIMEOUT_MS,
      });
    const direct = await npmInstall(`node-${process.platform}-${process.arch}@${major}`);
    if (direct.code !== 0 || !existsSync(join(bin, 'node'))) {
      expectSuccess(`npm install node@${major}`, await npmInstall(`node@${major}`));
    }
  }
  const version = await run(join(bin, 'node'), ['--version'], { cwd: dir, env: process.env });
  expectSuccess(`node@${major} --version`, version);
  return { bin, version: version.stdout.trim() };
}

// ---------------------------------------------------------------------------------------------
// 3. Consumers

/**
 * Install profiles. Each is one consumer project per Node version, installed once.
 * `pre` is what the app had before it added mcp-otel (installed first, like a real app).
 */
function profiles(major) {
  return {
    sdk1: {
      install: [
        [
          '@modelcontextprotocol/sdk@^1.32.0',
          'zod@^4',
          'typescript@~5.9.3',
          `@types/node@^${major}`,
        ],
      ],
    },
    sdk2: {
      install: [['@modelcontextprotocol/server@^2', '@modelcontextprotocol/client@^2', 'zod@^4']],
    },
    // An app that already uses the OpenTelemetry Node SDK: whatever npm gives it on this Node.
    'existing-otel': {
      pre: [
        '@opentelemetry/api',
        '@opentelemetry/sdk-node',
        '@opentelemetry/exporter-trace-otlp-http',
        '@modelcontextprotocol/sdk@^1.32.0',
        'zod@^4',
      ],
      install: [[]],
    },
    // A package manager that does not install peers (npm --legacy-peer-deps, yarn 1): the
    // @opentelemetry/api that resolves is whatever a transitive dependency brought along
    // (@opentelemetry/api-logs depends on api ^1.3.0, so: the newest 1.x).
    'legacy-peers': {
      install: [['@modelcontextprotocol/sdk@^1.32.0', 'zod@^4']],
      flags: ['--legacy-peer-deps'],
    },
    // Two copies of @opentelemetry/api: the app's (it set up its NodeSDK with it) and another
    // one nested under mcp-otel, of the other minor (1.9 vs 1.10), as a monorepo, pnpm or a
    // forced install can leave them. Newer than the app's, ours cannot see the app's setup.
    'dup-api': {
      pre: [
        '@opentelemetry/api',
        '@opentelemetry/sdk-node',
        '@opentelemetry/exporter-trace-otlp-http',
        '@modelcontextprotocol/sdk@^1.32.0',
        'zod@^4',
      ],
      install: [[]],
      post: nestOtherApi,
    },
    // No @opentelemetry/api resolvable from mcp-otel at all (pnpm with auto-install-peers=false,
    // Yarn PnP): the legacy-peers install with the api package removed.
    'missing-api': {
      install: [['@modelcontextprotocol/sdk@^1.32.0', 'zod@^4']],
      flags: ['--legacy-peer-deps'],
      post: (dir) =>
        rmSync(join(dir, 'node_modules', '@opentelemetry', 'api'), {
          recursive: true,
          force: true,
        }),
    },
  };
}

/** Nests under mcp-otel a copy of @opentelemetry/api of the other minor than the app's. */
async function nestOtherApi(dir, node) {
  const env = baseEnv(node.bin);
  // The api's exports map has no ./package.json; read the file.
  const rootVersion = JSON.parse(
    readFileSync(join(dir, 'node_modules', '@opentelemetry', 'api', 'package.json'), 'utf8'),
  ).version;
  const other = rootVersion.startsWith('1.10.') ? '1.9.1' : '1.10.0';
  const packed = await run(
    'npm',
    ['pack', '--prefer-offline', '--json', `@opentelemetry/api@${other}`],
    { cwd: dir, env },
  );
  expectSuccess(`npm pack @opentelemetry/api@${other}`, packed);
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[')));
  const target = join(dir, 'node_modules', 'mcp-otel', 'node_modules', '@opentelemetry', 'api');
  mkdirSync(target, { recursive: true });
  const untar = await run(
    'tar',
    ['-xzf', join(dir, info.filename), '-C', target, '--strip-components=1'],
    { cwd: dir, env },
  );
  expectSuccess('tar', untar);
  rmSync(join(dir, info.filename));
}

async function installConsumer(node, major, name, profile, tarball) {
  const dir = join(work, `node${major}`, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `consumer-${name}`, private: true, type: 'module' }, null, 2) + '\n',
  );
  for (const file of readdirSync(FIXTURES)) {
    copyFileSync(
      join(FIXTURES, file),
      join(dir, file === 'tsconfig.consumer.json' ? 'tsconfig.json' : file),
    );
  }
  const npmArgs = [
    'install',
    '--prefer-offline',
    '--no-audit',
    '--no-fund',
    ...(profile.flags ?? []),
  ];
  const env = baseEnv(node.bin);
  if (profile.pre) {
    const pre = await run('npm', [...npmArgs, ...profile.pre], {
      cwd: dir,
      env,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    expectSuccess(`npm install ${profile.pre.join(' ')}`, pre);
  }
  for (const extra of profile.install) {
    const result = await run('npm', [...npmArgs, tarball, ...extra], {
      cwd: dir,
      env,
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
    expectSuccess(`npm install mcp-otel ${extra.join(' ')}`, result);
  }
  await profile.post?.(dir, node);
  const ls = await run('npm', ['ls', '--depth=0', '--json'], { cwd: dir, env });
  const tree = JSON.parse(ls.stdout || '{}');
  const versions = Object.entries(tree.dependencies ?? {})
    .map(([dep, info]) => `${dep}@${info.version}`)
    .join(' ');
  const otel = await resolvedOtel(node, dir);
  console.log(`  [${name}] ${versions}\n  [${name}] mcp-otel resolves: ${otel}`);
  return { dir, apiMissing: /\bapi missing\b/.test(otel) };
}

/** The OTel versions mcp-otel's own require() resolves inside the consumer. */
async function resolvedOtel(node, dir) {
  const script = `
    const { createRequire } = require('node:module');
    const { readFileSync } = require('node:fs');
    const { dirname, join } = require('node:path');
    const from = createRequire(require.resolve('mcp-otel'));
    const out = [];
    for (const name of ['@opentelemetry/api', '@opentelemetry/sdk-trace', '@opentelemetry/sdk-node']) {
      try {
        let d = dirname(from.resolve(name));
        while (!require('node:fs').existsSync(join(d, 'package.json')) || JSON.parse(readFileSync(join(d, 'package.json'))).name !== name) d = dirname(d);
        out.push(name.replace('@opentelemetry/', '') + '@' + JSON.parse(readFileSync(join(d, 'package.json'))).version);
      } catch { out.push(name.replace('@opentelemetry/', '') + ' missing'); }
    }
    process.stdout.write(out.join(' '));`;
  const result = await run(join(node.bin, 'node'), ['-e', script], {
    cwd: dir,
    env: baseEnv(node.bin),
  });
  return result.code === 0 ? result.stdout : `(could not tell: ${tail(result.stderr, 2)})`;
}

async function waitForSpans(receiver, predicate) {
  const deadline = Date.now() + SPAN_WAIT_MS;
  while (!predicate(receiver.spans()) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
  return receiver.spans();
}

function describeSpans(spans) {
  if (spans.length === 0) return '(no spans received)';
  return spans
    .map((s) => `${s.name} kind=${s.kind} span=${s.spanId} parent=${s.parentSpanId || '-'}`)
    .join('\n');
}

/**
 * Asserts what a user would see in their backend: a SERVER and a CLIENT span for the tool call,
 * in one trace (trace context crossed the transport in _meta), and the tool's own span (made
 * through the app's @opentelemetry/api) as a child of the SERVER span.
 */
function assertToolSpans(spans, { client = true, appSpan = true, serviceName } = {}) {
  const server = spans.find((s) => s.name === 'tools/call echo' && s.kind === SPAN_KIND_SERVER);
  const problems = [];
  if (!server) problems.push('no SERVER span "tools/call echo"');
  if (client) {
    const clientSpan = spans.find(
      (s) => s.name === 'tools/call echo' && s.kind === SPAN_KIND_CLIENT,
    );
    if (!clientSpan) problems.push('no CLIENT span "tools/call echo"');
    else if (server && server.traceId !== clientSpan.traceId) {
      problems.push('SERVER and CLIENT spans are in different traces (no _meta propagation)');
    }
  }
  if (appSpan && server) {
    const work = spans.find((s) => s.name === 'app.work');
    if (!work) problems.push('no span "app.work" from the tool handler');
    else if (work.parentSpanId !== server.spanId) {
      problems.push(
        '"app.work" is not a child of the SERVER span (no active context in the handler)',
      );
    }
  }
  if (serviceName && server && server.resource['service.name'] !== serviceName) {
    problems.push(`service.name is ${server.resource['service.name']}, expected ${serviceName}`);
  }
  if (problems.length > 0)
    throw new Error(`${problems.join('; ')}\nspans:\n${describeSpans(spans)}`);
}

/** mcp-otel's own diagnostics ("[mcp-otel] warn: ...") on a child's stderr. */
function diagnosticsIn(stderr) {
  return stderr.split('\n').filter((line) => line.startsWith('[mcp-otel]'));
}

function expectNoDiagnostics(result) {
  const lines = diagnosticsIn(result.stderr);
  if (lines.length > 0) throw new Error(`unexpected diagnostics on stderr:\n${lines.join('\n')}`);
}

/** Runs `node ...argv` in a consumer with OTLP/JSON pointed at a fresh receiver. */
async function runApp(node, dir, argv, check, extraEnv = {}) {
  const receiver = await startReceiver();
  try {
    const env = baseEnv(node.bin, {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_METRICS_EXPORTER: 'none',
      OTEL_LOGS_EXPORTER: 'none',
      ...extraEnv,
    });
    const result = await run(join(node.bin, 'node'), argv, { cwd: dir, env });
    expectSuccess(`node ${argv.join(' ')}`, result);
    if (!/^ok hello/m.test(result.stdout)) {
      throw new Error(
        `the app did not print its tool result:\n${tail(result.stdout + result.stderr)}`,
      );
    }
    await check({ result, receiver });
  } finally {
    await receiver.close();
  }
}

function scenarios(major, node) {
  const prefix = `node${major}`;
  const tool =
    (options) =>
    async ({ receiver, result }) => {
      const spans = await waitForSpans(receiver, (s) =>
        s.some((x) => x.name === 'tools/call echo'),
      );
      assertToolSpans(spans, options);
      expectNoDiagnostics(result);
    };
  const tsc = join('node_modules', 'typescript', 'bin', 'tsc');
  return [
    {
      // One tsc run type-checks (skipLibCheck off: our .d.ts are checked too, exit 2 on any
      // error) and compiles; then the compiled app runs.
      name: `${prefix} sdk1 esm-ts: tsc against the published .d.ts, then the app, in-memory, OTLP`,
      profile: 'sdk1',
      run: async (dir) => {
        const build = await run(join(node.bin, 'node'), [tsc, '-p', 'tsconfig.json'], {
          cwd: dir,
          env: baseEnv(node.bin),
        });
        expectSuccess('tsc', build);
        await runApp(node, dir, ['build/app.js'], tool({ serviceName: 'consumer-esm-ts' }));
      },
    },
    {
      name: `${prefix} sdk1 cjs: require('mcp-otel'), in-memory, OTLP`,
      profile: 'sdk1',
      run: (dir) => runApp(node, dir, ['app.cjs'], tool({ serviceName: 'consumer-cjs' })),
    },
    {
      name: `${prefix} sdk1 cli: npx mcp-otel wrap -- node stdio-server.mjs, stdio`,
      profile: 'sdk1',
      run: (dir) => runApp(node, dir, ['wrap-driver.mjs'], tool({ client: false, appSpan: false })),
    },
    {
      name: `${prefix} sdk1 register: node --import mcp-otel/register, in-memory`,
      profile: 'sdk1',
      run: (dir) =>
        runApp(
          node,
          dir,
          ['--import', 'mcp-otel/register', 'register-app.mjs'],
          tool({ appSpan: false }),
        ),
    },
    {
      name: `${prefix} sdk1 events-only: console sink, no OTLP`,
      profile: 'sdk1',
      run: (dir) => runApp(node, dir, ['events-only.mjs'], eventsOnly),
    },
    {
      name: `${prefix} sdk2 esm: @modelcontextprotocol/server + client 2.x, in-memory, OTLP`,
      profile: 'sdk2',
      run: (dir) => runApp(node, dir, ['app-v2.mjs'], tool({ serviceName: 'consumer-v2' })),
    },
    {
      name: `${prefix} sdk2 register: node --import mcp-otel/register, in-memory`,
      profile: 'sdk2',
      run: (dir) =>
        runApp(
          node,
          dir,
          ['--import', 'mcp-otel/register', 'register-app-v2.mjs'],
          tool({ appSpan: false }),
        ),
    },
    {
      name: `${prefix} existing-otel: the app's own NodeSDK, mcp-otel spans through it`,
      profile: 'existing-otel',
      run: (dir) =>
        runApp(node, dir, ['existing-otel.mjs'], tool({ serviceName: 'consumer-existing-otel' })),
    },
    {
      // Whether the api resolves here depends on the OTel line npm picked (see the profile).
      name: `${prefix} legacy-peers: default OTel sink: spans, or one-line diagnostic if no api`,
      profile: 'legacy-peers',
      run: (dir, consumer) =>
        runApp(
          node,
          dir,
          ['default-otel.mjs'],
          consumer.apiMissing
            ? missingPeer
            : tool({ client: false, appSpan: false, serviceName: 'consumer-default' }),
        ),
    },
    {
      name: `${prefix} dup-api: two @opentelemetry/api copies, app's NodeSDK: joined traces or one diagnostic`,
      profile: 'dup-api',
      run: (dir) => runApp(node, dir, ['existing-otel.mjs'], duplicateApi(dir)),
    },
    {
      name: `${prefix} missing-api: console sink works without @opentelemetry/api (ESM)`,
      profile: 'missing-api',
      run: (dir) => runApp(node, dir, ['events-only.mjs'], eventsOnly),
    },
    {
      name: `${prefix} missing-api: console sink works without @opentelemetry/api (CJS)`,
      profile: 'missing-api',
      run: (dir) => runApp(node, dir, ['events-only.cjs'], eventsOnly),
    },
    {
      name: `${prefix} missing-api: npx mcp-otel wrap forwards, one-line diagnostic`,
      profile: 'missing-api',
      run: (dir) => runApp(node, dir, ['wrap-driver.mjs'], missingPeer),
    },
    {
      name: `${prefix} missing-api: default OTel sink, one-line diagnostic, app unaffected`,
      profile: 'missing-api',
      run: (dir) => runApp(node, dir, ['default-otel.mjs'], missingPeer),
    },
  ];
}

async function eventsOnly({ result, receiver }) {
  const lines = result.stderr.split('\n').filter((line) => line.startsWith('{'));
  const call = lines
    .map((line) => JSON.parse(line))
    .find((e) => e.type === 'request' && e.mcpMethod === 'tools/call');
  if (!call)
    throw new Error(`no tools/call event from the console sink on stderr:\n${tail(result.stderr)}`);
  if (receiver.requests.length > 0)
    throw new Error(`${receiver.requests.length} OTLP requests sent; expected none`);
  expectNoDiagnostics(result);
}

/**
 * With the nested copy older than the app's, it can use the app's registration: traces join, no
 * diagnostic. Newer, it cannot: one diagnostic line naming @opentelemetry/api, and the app runs.
 */
function duplicateApi(dir) {
  return async ({ result, receiver }) => {
    const version = (path) =>
      JSON.parse(readFileSync(join(dir, path, 'package.json'), 'utf8')).version;
    const app = version('node_modules/@opentelemetry/api');
    const ours = version('node_modules/mcp-otel/node_modules/@opentelemetry/api');
    const newer = ours.localeCompare(app, undefined, { numeric: true }) > 0;
    if (!newer) {
      const spans = await waitForSpans(receiver, (s) =>
        s.some((x) => x.name === 'tools/call echo'),
      );
      assertToolSpans(spans, { serviceName: 'consumer-existing-otel' });
      expectNoDiagnostics(result);
      return;
    }
    const lines = diagnosticsIn(result.stderr);
    if (lines.length !== 1 || !lines[0].includes('@opentelemetry/api')) {
      throw new Error(
        `app's api ${app}, ours ${ours}: expected one [mcp-otel] line naming @opentelemetry/api, got:\n${tail(result.stderr)}`,
      );
    }
  };
}

async function missingPeer({ result, receiver }) {
  const lines = diagnosticsIn(result.stderr);
  if (lines.length !== 1 || !lines[0].includes('@opentelemetry/api')) {
    throw new Error(
      `expected one [mcp-otel] line naming @opentelemetry/api on stderr, got:\n${tail(result.stderr)}`,
    );
  }
  if (/^\s+at /m.test(result.stderr))
    throw new Error(`a stack trace on stderr:\n${tail(result.stderr)}`);
  if (receiver.requests.length > 0)
    throw new Error('OTLP requests sent without an OpenTelemetry API');
}

// ---------------------------------------------------------------------------------------------
// 4. The repo's integration tests under another Node

async function integration(node, major) {
  await step(`node${major} repo: vitest run test/integration`, async () => {
    const result = await run(
      join(node.bin, 'node'),
      [join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', 'test/integration'],
      {
        cwd: ROOT,
        env: baseEnv(node.bin, { CI: process.env.CI ?? '' }),
        timeoutMs: INTEGRATION_TIMEOUT_MS,
      },
    );
    const summary = result.stdout
      // eslint-disable-next-line no-control-regex -- vitest colours its summary
      .replace(/\x1b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => /^\s*(Test Files|Tests)\s/.test(l));
    console.log(summary.map((l) => `       ${l.trim()}`).join('\n'));
    expectSuccess('vitest', result);
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  console.log(`consumer matrix in ${work}`);
  const tarball = await packTarball();
  await checkPackage(tarball);
  const majors = args.node
    .split(',')
    .map((v) => Number(v.trim()))
    .filter(Boolean);
  const current = Number(process.versions.node.split('.')[0]);
  for (const major of majors) {
    const t0 = Date.now();
    let node;
    try {
      node = await nodeFor(major);
    } catch (error) {
      record(`node${major}: install node@${major}`, error.message, Date.now() - t0);
      continue;
    }
    console.log(`\n[node ${node.version}]`);
    const all = scenarios(major, node).filter((s) => !only || only.test(s.name));
    const wanted = new Set(all.map((s) => s.profile));
    // Two installs at a time: npm spends most of an install waiting on the cache and the disk.
    const dirs = new Map();
    const queue = Object.entries(profiles(major)).filter(([name]) => wanted.has(name));
    const installer = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [name, profile] = next;
        const i0 = Date.now();
        try {
          dirs.set(name, await installConsumer(node, major, name, profile, tarball));
          console.log(`  [${name}] installed in ${seconds(Date.now() - i0)}`);
        } catch (error) {
          dirs.set(name, error);
          console.log(`  [${name}] install failed after ${seconds(Date.now() - i0)}`);
        }
      }
    };
    await Promise.all([installer(), installer()]);
    for (const scenario of all) {
      const dir = dirs.get(scenario.profile);
      if (dir instanceof Error) {
        record(scenario.name, `consumer "${scenario.profile}" did not install: ${dir.message}`, 0);
        continue;
      }
      await step(scenario.name, () => scenario.run(dir.dir, dir));
    }
    if (args.integration && major !== current) await integration(node, major);
    console.log(`  node ${major}: ${seconds(Date.now() - t0)}`);
  }
}

let crashed;
try {
  await main();
} catch (error) {
  if (!(error instanceof Bail)) crashed = error;
}
if (crashed) console.log(`consumer matrix crashed: ${crashed.stack ?? crashed}`);
if (!args.keep && !args.work) rmSync(work, { recursive: true, force: true });
const failed = results.filter((r) => r.error !== undefined);
if (failed.length > 0) {
  console.log('\nfailed:');
  for (const f of failed) console.log(`  ${f.name}`);
}
console.log(`\ntook ${seconds(Date.now() - started)}`);
console.log(`consumer matrix: ${results.length - failed.length} passed, ${failed.length} failed`);
// A filter that matched nothing has proved nothing.
process.exitCode = failed.length > 0 || crashed || results.length === 0 ? 1 : 0;

/**
 * The `mcp-otel wrap` process (or the bare pipe proxy) under N sequential `tools/call echo`
 * calls from a real SDK client over stdio, as the "mcp-otel wrap" bench scenario runs them,
 * after WARMUP (default 2,000) calls. Prints the proxy process's own CPU per call (all its
 * threads, /proc schedstat) and context switches; by default also writes the proxy's CPU profile
 * (`node --cpu-prof`, start-up included) into <dir>. Variants: `pipe proxy`, `direct`,
 * `wrap [flags…]` (dist, or $DIST), `wrap-tsx [flags…]` (the sources under tsx). Usage:
 *   node --import tsx bench/wrap-profile.ts "wrap --no-propagate" 10000 /tmp/wrapprof
 *   node bench/profile-summary.mjs /tmp/wrapprof/<file>.cpuprofile --calls 10000
 * NO_PROFILE=1: no profile (CPU figures without the profiler's own cost); STRACE=<file>: syscall
 * counts of the proxy; PERF=<file>: on-CPU samples of the proxy and server (perf record).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { proxyEnv, startReceiver } from './scenarios.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const variant = process.argv[2] ?? 'wrap';
const calls = Number(process.argv[3] ?? 20_000);
const dir = process.argv[4] ?? '/tmp/wrapprof';
mkdirSync(dir, { recursive: true });

const server = [process.execPath, `${root}test/fixtures/plain-stdio-server.mjs`];
const prof = [`--cpu-prof`, `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=50'];
const noProfile = process.env.NO_PROFILE === '1';
const flags = noProfile ? [] : prof;
// "wrap …" runs dist (what users run), "wrap-tsx …" the sources under tsx; flags follow.
const [kind = 'wrap', ...wrapFlags] = variant.split(' ');
const args =
  variant === 'direct'
    ? server.slice(1)
    : variant === 'pipe proxy'
      ? [...flags, `${root}bench/pipe-proxy.mjs`, ...server]
      : [
          ...flags,
          ...(kind === 'wrap-tsx'
            ? ['--import', 'tsx', `${root}src/cli/main.ts`]
            : [`${process.env.DIST ?? `${root}dist`}/esm/cli/main.js`]),
          'wrap',
          ...wrapFlags,
          '--',
          ...server,
        ];

let mainPid = 0;
const receiver = await startReceiver();
try {
  const client = new Client({ name: 'bench-client', version: '1.0.0' });
  const transport = new StdioClientTransport({
    // STRACE=<file>: syscall counts of the proxy (not of the server it runs) into <file>.
    // PERF=<file>: on-CPU samples (perf record, cpu-clock) of the proxy and its server.
    ...(process.env.STRACE
      ? { command: 'strace', args: ['-c', '-o', process.env.STRACE, process.execPath, ...args] }
      : process.env.PERF
        ? {
            command: 'perf',
            args: [
              'record',
              '-q',
              '-e',
              'cpu-clock',
              '-F',
              '10000',
              '-g',
              '-o',
              process.env.PERF,
            ].concat([process.execPath, '--perf-basic-prof', ...args]),
          }
        : { command: process.execPath, args }),
    env: proxyEnv(receiver.url),
    stderr: 'inherit',
    cwd: root,
  });
  await client.connect(transport);
  for (let i = 0; i < Number(process.env.WARMUP ?? 2_000); i++) {
    await client.callTool({ name: 'echo', arguments: { text: 'hello from the benchmark' } });
  }
  const pid = transport.pid ?? 0;
  mainPid = pid;
  const before = procStats(pid);
  const start = performance.now();
  for (let i = 0; i < calls; i++) {
    await client.callTool({ name: 'echo', arguments: { text: 'hello from the benchmark' } });
  }
  const wall = performance.now() - start;
  const after = procStats(pid);
  const per = (a: number, b: number) => ((a - b) / calls).toFixed(2);
  process.stderr.write(
    `${variant}: ${calls} calls, ${((wall * 1000) / calls).toFixed(1)} µs/call wall, ` +
      `proxy CPU ${per(after.cpuUs, before.cpuUs)} µs/call, ` +
      `switches ${per(after.voluntary, before.voluntary)} voluntary + ` +
      `${per(after.involuntary, before.involuntary)} involuntary per call\n`,
  );
  if (process.env.THREADS === '1') {
    // CPU per call by thread name: the main thread's JavaScript vs V8's and libuv's helpers.
    for (const [name, us] of byThread(after.threads, before.threads)) {
      process.stderr.write(`  ${name.padEnd(20)} ${(us / calls).toFixed(2)} µs/call\n`);
    }
  }
  await client.close();
  // The proxy writes its profile as it exits.
  await new Promise((resolve) => setTimeout(resolve, 500));
} finally {
  receiver.stop();
}

/** CPU µs added per thread name between two readings. */
function byThread(after: Map<string, number>, before: Map<string, number>): [string, number][] {
  const names = new Map<string, number>();
  for (const [tid, us] of after) {
    // The main thread's tid is the pid; V8's and libuv's helper threads are all named "node".
    const [id = '', comm = ''] = tid.split(' ');
    const name = id === String(mainPid) ? `${comm} (main)` : `${comm} (helpers)`;
    names.set(name, (names.get(name) ?? 0) + us - (before.get(tid) ?? 0));
  }
  return [...names].sort((a, b) => b[1] - a[1]);
}

/** CPU µs (all threads, and per thread as `<tid> <name>`) and context switches of `pid`. */
function procStats(pid: number): {
  cpuUs: number;
  voluntary: number;
  involuntary: number;
  threads: Map<string, number>;
} {
  const threads = new Map<string, number>();
  let cpuUs = 0;
  let voluntary = 0;
  let involuntary = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8');
    const us = Number(stat.slice(0, stat.indexOf(' '))) / 1000;
    cpuUs += us;
    const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
    threads.set(`${tid} ${name}`, us);
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
    voluntary += Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
    involuntary += Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)?.[1] ?? 0);
  }
  return { cpuUs, voluntary, involuntary, threads };
}

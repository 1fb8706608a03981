// Aggregates a .cpuprofile by self time per function and per package/file; with --calls N,
// per call (µs); with --diff other.cpuprofile (same --calls), the difference per function.
// --last-ms T: only the profile's last T ms (a process profiled from start-up: its steady state).
// Usage: node bench/profile-summary.mjs <file.cpuprofile> [--calls N] [--diff base.cpuprofile] [--top 40] [--last-ms T]
import { readFileSync } from 'node:fs';

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on('error', () => process.exit(0));
const argv = process.argv.slice(2);
const opt = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const file = argv[0];
if (!file) {
  process.stderr.write(
    'usage: profile-summary.mjs <file.cpuprofile> [--calls N] [--diff base] [--top N]\n',
  );
  process.exit(2);
}
const calls = Number(opt('--calls') ?? 0);
const top = Number(opt('--top') ?? 40);
const base = opt('--diff');
const lastMs = opt('--last-ms');

const shortUrl = (url) =>
  url
    .replace(/^file:\/\//, '')
    .replace(/.*\/node_modules\//, '~/')
    .replace(/.*\/work\/main\//, '');

function load(path) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let from = 0;
  if (lastMs !== undefined) {
    // Walk back from the end until T ms of samples are covered.
    let covered = 0;
    from = profile.samples.length;
    while (from > 0 && covered < Number(lastMs) * 1000) covered += profile.timeDeltas[--from] ?? 0;
  }
  // timeDeltas[i] is the time before samples[i]: attribute it to that sample's node.
  for (let i = from; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fn = new Map();
  const files = new Map();
  let total = 0;
  for (const [id, us] of self) {
    const { callFrame } = byId.get(id);
    if (callFrame.functionName === '(idle)') continue;
    total += us;
    const url = callFrame.url ? shortUrl(callFrame.url) : '';
    const key = `${callFrame.functionName || '(anonymous)'} ${url}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + us);
    const group = url ? url.replace(/^~\/(@[^/]+\/[^/]+|[^/]+)\/.*/, '$1') : callFrame.functionName;
    files.set(group, (files.get(group) ?? 0) + us);
  }
  return { fn, files, total };
}

const a = load(file);
const b = base ? load(base) : undefined;
const scale = calls > 0 ? 1 / calls : 1 / 1000;
const unit = calls > 0 ? 'µs/call' : 'ms';
const fmt = (us) => (us * scale).toFixed(calls > 0 ? 2 : 0).padStart(8);

function print(title, mine, theirs) {
  process.stdout.write(`\n${title} (${unit}${theirs ? ', minus the --diff profile' : ''})\n`);
  const keys = new Set([...mine.keys(), ...(theirs ? theirs.keys() : [])]);
  const rows = [...keys].map((k) => [k, (mine.get(k) ?? 0) - (theirs?.get(k) ?? 0)]);
  rows.sort((x, y) => Math.abs(y[1]) - Math.abs(x[1]));
  for (const [key, us] of rows.slice(0, top)) process.stdout.write(`${fmt(us)}  ${key}\n`);
}

process.stdout.write(
  `total (busy) ${fmt(a.total)} ${unit}` +
    (b ? `, --diff profile ${fmt(b.total)} ${unit}, difference ${fmt(a.total - b.total)}` : '') +
    '\n',
);
print('self time by function', a.fn, b?.fn);
print('self time by package / file', a.files, b?.files);

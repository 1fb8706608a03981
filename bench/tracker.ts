/**
 * The schema tracker alone on an unchanged listing: 200 tools in 4 pages of 50, fresh objects
 * per page (as a handler builds them), µs per listing, median of 15 blocks of 500 listings,
 * interleaved with a no-op tracker whose time (building the pages) is subtracted. With
 * `--compare <dir of another src/>` the tracker of that copy runs interleaved too. Usage:
 *   node --import tsx bench/tracker.ts [--compare node_modules/.cache/before/src]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SchemaTracker, type ListPage } from '../src/schema/schema-tracker.js';
import { median } from './stats.js';

interface Tracker {
  observe(page: ListPage): unknown;
}

const args = process.argv.slice(2);
const compare = args.includes('--compare') ? args[args.indexOf('--compare') + 1] : undefined;
const trackers: Record<string, Tracker> = {
  none: { observe: () => undefined },
  'this tree': new SchemaTracker(),
};
if (compare) {
  const url = pathToFileURL(resolve(compare, 'schema/schema-tracker.ts')).href;
  const before = (await import(url)) as { SchemaTracker: new () => Tracker };
  trackers['--compare'] = new before.SchemaTracker();
}

const tool = (i: number) => ({
  name: `tool_${i}`,
  description: `Tool number ${i}, which does something moderately useful with its inputs.`,
  inputSchema: {
    type: 'object',
    properties: {
      query: { type: 'string', description: 'what to look for' },
      limit: { type: 'number' },
    },
    required: ['query'],
  },
});

function listing(tracker: Tracker, now: number): void {
  for (let page = 0; page < 4; page++) {
    const tools = [];
    for (let i = page * 50; i < page * 50 + 50; i++) tools.push(tool(i));
    tracker.observe({
      server: 'bench',
      scope: 'session',
      method: 'tools/list',
      requestCursor: page === 0 ? undefined : String(page * 50),
      result: { tools, ...(page < 3 && { nextCursor: String(page * 50 + 50) }) },
      role: 'server',
      now,
    });
  }
}

const times = new Map<string, number[]>(Object.keys(trackers).map((name) => [name, []]));
for (let block = 0; block < 15; block++) {
  for (const [name, tracker] of Object.entries(trackers)) {
    const count = 500;
    const start = performance.now();
    for (let i = 0; i < count; i++) listing(tracker, i);
    times.get(name)?.push(((performance.now() - start) * 1000) / count);
  }
}
const base = median(times.get('none') ?? []);
for (const [name, samples] of times) {
  if (name === 'none') continue;
  process.stdout.write(
    `${name.padEnd(10)} ${(median(samples) - base).toFixed(1)} µs per unchanged listing\n`,
  );
}

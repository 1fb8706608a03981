// Builds dist/: ESM in dist/esm, CommonJS in dist/cjs (its own package.json says so), each
// file transpiled on its own (no bundling: the ESM and CJS entry points keep one module graph
// each, so `mcp-otel` and `mcp-otel/register` share the process-wide bus), and declarations
// from tsc for both. esbuild rather than a rollup-based bundler: rollup's platform packages
// are not all on the registry this project installs from, which breaks `npm ci`.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = join(root, 'src');
const dist = join(root, 'dist');

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

rmSync(dist, { recursive: true, force: true });
const entryPoints = sources(src);
const common = {
  entryPoints,
  outbase: src,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
};

// The OpenTelemetry sink loader has a twin per format that the build compiles in its place
// (src/sinks/otel/otel-sink-loader.ts says why); the --import entry uses top-level await and is
// ESM by nature (`register-cjs` is its CJS twin, an entry of its own).
const loader = join(src, 'sinks/otel/otel-sink-loader.ts');
const loaderTwins = {
  esm: join(src, 'sinks/otel/otel-sink-loader-esm.ts'),
  cjs: join(src, 'sinks/otel/otel-sink-loader-cjs.ts'),
};
/** Entry points of one format: the loader's twin for that format under the loader's name. */
function entriesFor(format, skip = []) {
  const other = format === 'esm' ? loaderTwins.cjs : loaderTwins.esm;
  return entryPoints
    .filter((path) => path !== loader && path !== other && !skip.includes(path))
    .map((path) => ({
      in: path,
      out: (path === loaderTwins[format] ? loader : path)
        .slice(src.length + 1)
        .replace(/\.ts$/, ''),
    }));
}
await build({
  ...common,
  entryPoints: entriesFor('esm'),
  outdir: join(dist, 'esm'),
  format: 'esm',
});
await build({
  ...common,
  entryPoints: entriesFor('cjs', [join(src, 'register.ts')]),
  outdir: join(dist, 'cjs'),
  format: 'cjs',
  // import.meta.url (createRequire for lazily loaded exporters) has a CJS equivalent.
  define: { 'import.meta.url': '__mcpOtelImportMetaUrl' },
  banner: {
    js: 'var __mcpOtelImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
  },
});
writeFileSync(join(dist, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }) + '\n');

// Declarations once, into the ESM tree; the same files serve the CJS tree, where the
// folder's package.json makes TypeScript read them as CommonJS declarations.
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  { stdio: 'inherit' },
);
cpSync(join(dist, 'esm'), join(dist, 'cjs'), {
  recursive: true,
  filter: (path) => relative(join(dist, 'esm'), path) === '' || !/\.js(\.map)?$/.test(path),
});
chmodSync(join(dist, 'esm', 'cli', 'main.js'), 0o755);
chmodSync(join(dist, 'cjs', 'cli', 'main.js'), 0o755);

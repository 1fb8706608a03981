import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** One module file of an MCP SDK copy, and the classes in it whose `connect()` to patch. */
export interface SdkModule {
  /** npm name of the package, e.g. `@modelcontextprotocol/sdk`. */
  readonly packageName: string;
  /** How the app loads this file: `import` (ESM entry) or `require` (CJS entry). */
  readonly format: 'esm' | 'cjs';
  /** Absolute path, symlinks resolved (as Node's own resolvers return it). */
  readonly file: string;
  /** Exported classes whose prototype owns a `connect()` that runs Protocol.connect. */
  readonly classes: readonly string[];
}

/** Where the app's SDK copies are, and where the search started. */
export interface SdkLocation {
  /** The directory resolution was done from (the app entry's, else the working directory). */
  readonly from: string;
  /** The app's entry script, symlinks resolved, when there is one. */
  readonly entry: string | undefined;
  readonly modules: readonly SdkModule[];
}

interface Target {
  readonly packageName: string;
  /** Subpath in the package's `exports`. */
  readonly subpath: string;
  readonly classes: readonly string[];
}

/**
 * What to patch in each SDK generation. v1 (`@modelcontextprotocol/sdk`): the one `Protocol`
 * class every Server and Client extends, in `shared/protocol.js`. v2 bundles a copy of
 * `Protocol` into each of `@modelcontextprotocol/server` and `@modelcontextprotocol/client`,
 * and exports it from their root; v2's `Client.connect()` probes `server/discover` on the raw
 * transport before it calls `Protocol.connect()`, so it is patched too (the probe is traffic).
 */
const TARGETS: readonly Target[] = [
  {
    packageName: '@modelcontextprotocol/sdk',
    subpath: './shared/protocol.js',
    classes: ['Protocol'],
  },
  { packageName: '@modelcontextprotocol/server', subpath: '.', classes: ['Protocol'] },
  { packageName: '@modelcontextprotocol/client', subpath: '.', classes: ['Client', 'Protocol'] },
];

/** Every MCP SDK package name register looks for, for the "not found" diagnostic. */
export const SDK_PACKAGE_NAMES: readonly string[] = TARGETS.map((t) => t.packageName);

/**
 * Finds the SDK copies the app itself would load: resolved from the app's entry script (what
 * `node app.js` runs), else from the working directory, never from mcp-otel's own location (a
 * globally installed or npx-fetched mcp-otel must patch the app's copy, not its own). Both
 * entries of a dual package are returned: an ESM app may import `dist/esm` while a CommonJS
 * dependency of it requires `dist/cjs`, and those are two distinct classes.
 */
export function locateSdk(
  entry: string | undefined = process.argv[1],
  cwd: string = process.cwd(),
): SdkLocation {
  // createRequire wants a file; the name of the one in the working directory does not matter.
  const inCwd = join(cwd, '[mcp-otel-register]');
  const app = entryFile(entry);
  for (const from of app === undefined ? [inCwd] : [app, inCwd]) {
    const modules = TARGETS.flatMap((target) => locateTarget(from, target));
    if (modules.length > 0) return { from: dirname(from), entry: app, modules };
  }
  return { from: dirname(app ?? inCwd), entry: app, modules: [] };
}

/** The entry script as Node loads it: symlinks resolved (an npm `.bin` link, say). */
function entryFile(entry: string | undefined): string | undefined {
  if (entry === undefined || entry === '') return undefined;
  try {
    return realpathSync(entry);
  } catch {
    return undefined; // `node -e`, the REPL, or a path that is not a file
  }
}

function locateTarget(from: string, target: Target): SdkModule[] {
  const require = createRequire(from);
  const specifier =
    target.subpath === '.' ? target.packageName : target.packageName + target.subpath.slice(1);
  // CommonJS: Node's own resolver, which is what the app's require() will run.
  const cjs = attempt(() => require.resolve(specifier));
  const root =
    packageRoot(require, target.packageName) ??
    (cjs === undefined ? undefined : enclosingPackage(cjs, target.packageName));
  if (root === undefined) return [];
  const manifest = readManifest(root);
  if (manifest === undefined) return [];
  // ESM: Node 20 offers no way to resolve from another module's location without loader hooks
  // (import.meta.resolve's parent argument is behind a flag), so read `exports` with the
  // conditions Node's ESM resolver uses, in the directory both resolvers look the package up in.
  const relative = resolvePackageSubpath(manifest, target.subpath, esmConditions());
  const esm = relative === undefined ? undefined : realFile(join(root, relative));
  const found: SdkModule[] = [];
  const { packageName, classes } = target;
  // One file for both (an ESM-only or CJS-only package): import() loads it either way, and an
  // import() of a CommonJS file shares require's cache, so it is patched once.
  if (esm !== undefined) found.push({ packageName, format: 'esm', file: esm, classes });
  if (cjs !== undefined && cjs !== esm)
    found.push({ packageName, format: 'cjs', file: cjs, classes });
  return found;
}

/**
 * Whether Node loads `file` as an ES module: by extension, else by the nearest package.json's
 * `type` (as Node decides it, leaving out syntax detection).
 */
export function isEsModuleFile(file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return true;
  if (/\.c[jt]s$/.test(file)) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return readManifest(dir)?.type === 'module';
    if (dirname(dir) === dir) return false;
  }
}

/** The package's directory, looked up the node_modules chain the way require() does. */
function packageRoot(require: NodeJS.Require, packageName: string): string | undefined {
  for (const dir of require.resolve.paths(packageName) ?? []) {
    const candidate = join(dir, packageName);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
  }
  return undefined;
}

/**
 * The directory of the package `file` belongs to, walking up to its package.json: for
 * resolvers that find packages without a node_modules folder (Yarn Plug'n'Play).
 */
function enclosingPackage(file: string, packageName: string): string | undefined {
  for (let dir = dirname(file); dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && readManifest(dir)?.name === packageName) {
      return dir;
    }
  }
  return undefined;
}

/** The package.json fields read here. */
interface Manifest {
  readonly name?: unknown;
  readonly type?: unknown;
  readonly exports?: unknown;
  readonly main?: unknown;
}

function readManifest(root: string): Manifest | undefined {
  return attempt(() => {
    const parsed: unknown = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  });
}

/**
 * Conditions Node's ESM resolver matches by default. `module-sync` is matched by Node versions
 * that can require() ES modules (20.19+, 22.12+), which report `process.features.require_module`.
 */
function esmConditions(): ReadonlySet<string> {
  const features = process.features as { require_module?: boolean };
  return new Set(
    features.require_module === true
      ? ['node', 'import', 'module-sync', 'default']
      : ['node', 'import', 'default'],
  );
}

/**
 * A package subpath (`.` or `./x/y.js`) to a path relative to the package root, following
 * `exports` (exact keys, then `*` patterns, conditions in object order) as Node's
 * PACKAGE_EXPORTS_RESOLVE does; without `exports`, the subpath itself (`main` for `.`).
 */
export function resolvePackageSubpath(
  manifest: Manifest,
  subpath: string,
  conditions: ReadonlySet<string>,
): string | undefined {
  const { exports } = manifest;
  if (exports === undefined || exports === null) {
    if (subpath !== '.') return subpath;
    return typeof manifest.main === 'string' ? manifest.main : './index.js';
  }
  const map = subpathMap(exports);
  if (!subpath.includes('*') && Object.hasOwn(map, subpath)) {
    return resolveTarget(map[subpath], undefined, conditions);
  }
  let bestKey: string | undefined;
  let bestMatch = '';
  for (const key of Object.keys(map)) {
    const star = key.indexOf('*');
    if (star === -1 || key.indexOf('*', star + 1) !== -1) continue;
    const prefix = key.slice(0, star);
    const suffix = key.slice(star + 1);
    if (
      subpath.length >= key.length &&
      subpath.startsWith(prefix) &&
      subpath.endsWith(suffix) &&
      (bestKey === undefined || comparePatternKeys(bestKey, key) > 0)
    ) {
      bestKey = key;
      bestMatch = subpath.slice(prefix.length, subpath.length - suffix.length);
    }
  }
  return bestKey === undefined ? undefined : resolveTarget(map[bestKey], bestMatch, conditions);
}

/** `exports` as a subpath map: a bare target or a conditions object means `{ ".": exports }`. */
function subpathMap(exports: unknown): Record<string, unknown> {
  if (typeof exports === 'object' && exports !== null && !Array.isArray(exports)) {
    const keys = Object.keys(exports);
    if (keys.length > 0 && keys.every((key) => key.startsWith('.'))) {
      return exports as Record<string, unknown>;
    }
  }
  return { '.': exports };
}

/** Node's PATTERN_KEY_COMPARE: the longer prefix before `*` wins, then the longer key. */
function comparePatternKeys(a: string, b: string): number {
  const starA = a.indexOf('*');
  const starB = b.indexOf('*');
  if (starA !== starB) return starB - starA;
  return b.length - a.length;
}

function resolveTarget(
  target: unknown,
  match: string | undefined,
  conditions: ReadonlySet<string>,
): string | undefined {
  if (typeof target === 'string') {
    if (!target.startsWith('./')) return undefined;
    return match === undefined ? target : target.replaceAll('*', match);
  }
  if (Array.isArray(target)) {
    for (const item of target as unknown[]) {
      const resolved = resolveTarget(item, match, conditions);
      if (resolved !== undefined) return resolved;
    }
    return undefined;
  }
  if (typeof target === 'object' && target !== null) {
    for (const [condition, value] of Object.entries(target)) {
      if (condition !== 'default' && !conditions.has(condition)) continue;
      const resolved = resolveTarget(value, match, conditions);
      if (resolved !== undefined) return resolved;
    }
  }
  return undefined;
}

/** The real path of an existing file (ESM module URLs are real paths; one URL, one instance). */
function realFile(path: string): string | undefined {
  return attempt(() => {
    const real = realpathSync(path);
    return statSync(real).isFile() ? real : undefined;
  });
}

function attempt<T>(work: () => T): T | undefined {
  try {
    return work();
  } catch {
    return undefined;
  }
}

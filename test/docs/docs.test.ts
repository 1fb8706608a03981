/**
 * The docs (docs/*.md and README.md) may describe only what the code has: every export a
 * snippet imports, every option, flag, environment variable, attribute, event field, link and
 * npm script they name is checked against the source here. A failure names the file and line.
 */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { FLAGS, helpText, parseArgs } from '../../src/cli/args.js';
import * as semconv from '../../src/sinks/otel/semconv.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ── reading markdown ───────────────────────────────────────────────────────────────────────

interface Doc {
  /** Path from the repository root, e.g. `docs/cli.md`. */
  readonly path: string;
  readonly text: string;
  /** The text with fenced code blocks blanked out (line numbers kept). */
  readonly prose: string;
}

interface CodeBlock {
  readonly doc: Doc;
  readonly lang: string;
  readonly code: string;
  /** Line of the opening fence. */
  readonly line: number;
}

interface Table {
  readonly doc: Doc;
  readonly line: number;
  readonly header: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Headings above the table, outermost first. */
  readonly headings: readonly string[];
  /** Prose between the nearest heading and the table. */
  readonly lead: string;
}

const FENCE = /^(```|~~~)([\w-]*)[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm;

function readDoc(path: string): Doc {
  const text = readFileSync(join(ROOT, path), 'utf8');
  const prose = text.replace(FENCE, (block) => block.replace(/[^\n]/g, ' '));
  return { path, text, prose };
}

const DOCS: readonly Doc[] = [
  ...readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => readDoc(`docs/${name}`)),
  readDoc('README.md'),
];

function doc(path: string): Doc {
  const found = DOCS.find((d) => d.path === path);
  if (!found) throw new Error(`${path} is missing`);
  return found;
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function where(d: Doc, line: number): string {
  return `${d.path}:${line}`;
}

function codeBlocks(d: Doc): CodeBlock[] {
  return [...d.text.matchAll(FENCE)].map((m) => ({
    doc: d,
    lang: (m[2] ?? '').toLowerCase(),
    code: m[3] ?? '',
    line: lineAt(d.text, m.index),
  }));
}

/** Inline code spans of the prose (code blocks excluded). */
function inlineCode(d: Doc): { code: string; line: number }[] {
  return [...d.prose.matchAll(/`([^`\n]+)`/g)].map((m) => ({
    code: m[1] ?? '',
    line: lineAt(d.prose, m.index),
  }));
}

/** Splits a table row on `|` outside code spans; `\|` is a literal bar. */
function cells(row: string): string[] {
  const out: string[] = [];
  let current = '';
  let inCode = false;
  for (let i = 0; i < row.length; i++) {
    const c = row[i];
    if (c === '\\' && row[i + 1] === '|') {
      current += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      current += c;
    } else if (c === '|' && !inCode) {
      out.push(current.trim());
      current = '';
    } else {
      current += c;
    }
  }
  out.push(current.trim());
  // A row starts and ends with a bar: drop the empty cells outside them.
  return out.slice(1, -1);
}

function tables(d: Doc): Table[] {
  const lines = d.prose.split('\n');
  const found: Table[] = [];
  const headings: string[] = [];
  let lead: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      headings.length = (heading[1] ?? '#').length - 1;
      headings.push(heading[2] ?? '');
      lead = [];
      continue;
    }
    const separator = lines[i + 1] ?? '';
    if (line.startsWith('|') && /^\|[\s:|-]+\|\s*$/.test(separator)) {
      const rows: string[][] = [];
      let j = i + 2;
      while ((lines[j] ?? '').startsWith('|')) rows.push(cells(lines[j++] ?? ''));
      found.push({
        doc: d,
        line: i + 1,
        header: cells(line),
        rows,
        headings: [...headings].filter((h) => h !== undefined),
        lead: lead.join('\n'),
      });
      lead = [];
      i = j - 1;
      continue;
    }
    lead.push(line);
  }
  return found;
}

/** The backticked pieces of a table cell. */
function ticked(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? '');
}

function column(table: Table, name: string): number {
  return table.header.findIndex((h) => h.toLowerCase() === name);
}

/** GitHub's anchor for a heading. */
function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchors(d: Doc): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of d.prose.matchAll(/^#{1,6}\s+(.*)$/gm)) {
    const base = slug(m[1] ?? '');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

// ── reading the source ─────────────────────────────────────────────────────────────────────

function sourceFile(path: string): ts.SourceFile {
  return ts.createSourceFile(path, readFileSync(join(ROOT, path), 'utf8'), ts.ScriptTarget.Latest);
}

/** Property names of an interface, own members only unless `inherited` says where to look. */
function interfaceFields(path: string, name: string): string[] {
  let fields: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      fields = node.members.flatMap((member) =>
        member.name && (ts.isIdentifier(member.name) || ts.isStringLiteral(member.name))
          ? [member.name.text]
          : [],
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile(path));
  if (!fields) throw new Error(`interface ${name} not found in ${path}`);
  return fields;
}

/** The members of a union of string literals, `type X = 'a' | 'b'`. */
function literalUnion(path: string, name: string): string[] {
  let members: string[] | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isTypeAliasDeclaration(node) && node.name.text === name) {
      const types = ts.isUnionTypeNode(node.type) ? node.type.types : [node.type];
      members = types.flatMap((t) =>
        ts.isLiteralTypeNode(t) && ts.isStringLiteral(t.literal) ? [t.literal.text] : [],
      );
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile(path));
  if (!members) throw new Error(`type ${name} not found in ${path}`);
  return members;
}

const OPTIONS = {
  InstrumentOptions: interfaceFields('src/options.ts', 'InstrumentOptions'),
  OtelSinkOptions: interfaceFields('src/sinks/otel/otel-sink.ts', 'OtelSinkOptions'),
  EventBusOptions: interfaceFields('src/event-bus.ts', 'EventBusOptions'),
  BatchProcessorOptions: interfaceFields(
    'src/sinks/otel/batch-processor.ts',
    'BatchProcessorOptions',
  ),
  ConsoleSinkOptions: interfaceFields('src/sinks/console-sink.ts', 'ConsoleSinkOptions'),
  JsonlSinkOptions: interfaceFields('src/sinks/jsonl-sink.ts', 'JsonlSinkOptions'),
  MemorySinkOptions: interfaceFields('src/sinks/memory-sink.ts', 'MemorySinkOptions'),
} as const;

/** What `instrument()` and `instrumentTransport()` accept: their own fields and the OTel sink's. */
const INSTRUMENT_FIELDS = [...OPTIONS.InstrumentOptions, ...OPTIONS.OtelSinkOptions];

const INDEX_TEXT = readFileSync(join(ROOT, 'src/index.ts'), 'utf8');
const VALUE_EXPORTS = new Set(Object.keys(api));
const TYPE_EXPORTS = new Set(
  [...INDEX_TEXT.matchAll(/export type \{([^}]*)\}/g)].flatMap((m) =>
    (m[1] ?? '')
      .split(',')
      .map(
        (name) =>
          name
            .trim()
            .split(/\s+as\s+/)
            .pop() ?? '',
      )
      .filter((name) => name !== ''),
  ),
);

const PACKAGE = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
  exports: Record<string, unknown>;
};

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const SOURCE_TEXT = sourceFiles('src')
  .map((path) => readFileSync(join(ROOT, path), 'utf8'))
  .join('\n');

// ── (a) snippets import only what the package exports, and type-check ────────────────────────

interface Import {
  readonly names: readonly { name: string; typeOnly: boolean }[];
  readonly from: string;
}

function importsOf(code: string): Import[] {
  return [...code.matchAll(/import\s+(type\s+)?\{([^}]*)\}\s+from\s+'([^']+)'/g)].map((m) => ({
    from: m[3] ?? '',
    names: (m[2] ?? '')
      .split(',')
      .map((piece) => piece.trim())
      .filter((piece) => piece !== '')
      .map((piece) => {
        const typeOnly = m[1] !== undefined || piece.startsWith('type ');
        const name = piece.replace(/^type\s+/, '').split(/\s+as\s+/)[0] ?? '';
        return { name, typeOnly };
      }),
  }));
}

const TS_BLOCKS = DOCS.flatMap(codeBlocks).filter(
  (b) => b.lang === 'ts' || b.lang === 'typescript',
);

describe('docs: code snippets', () => {
  it('there are TypeScript snippets to check', () => {
    expect(TS_BLOCKS.length).toBeGreaterThan(5);
  });

  it("import from 'mcp-otel' only names the package exports", () => {
    const wrong: string[] = [];
    for (const block of TS_BLOCKS) {
      for (const imp of importsOf(block.code)) {
        if (imp.from === 'mcp-otel') {
          for (const { name, typeOnly } of imp.names) {
            const exported = typeOnly
              ? VALUE_EXPORTS.has(name) || TYPE_EXPORTS.has(name)
              : VALUE_EXPORTS.has(name);
            if (!exported) wrong.push(`${where(block.doc, block.line)}: ${name}`);
          }
        } else if (imp.from.startsWith('mcp-otel/')) {
          const subpath = `.${imp.from.slice('mcp-otel'.length)}`;
          if (!(subpath in PACKAGE.exports))
            wrong.push(`${where(block.doc, block.line)}: ${imp.from}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('type-check against the source (free `server`, `client`, `transport` are declared)', () => {
    const diagnostics = typeCheck(TS_BLOCKS);
    expect(diagnostics).toEqual([]);
  }, 120_000);
});

/** Declarations for the names snippets use without defining them. */
const FREE_NAMES: Readonly<Record<string, string>> = {
  server: "import('@modelcontextprotocol/sdk/server/mcp.js').McpServer",
  client: "import('@modelcontextprotocol/sdk/client/index.js').Client",
  transport: "import('@modelcontextprotocol/sdk/shared/transport.js').Transport",
};

/**
 * Compiles every snippet as its own ES module, with what it uses but does not declare supplied
 * in a prelude: the package's exports (snippets often continue an earlier one) and the free
 * names above. Returns the errors, as `file:line: message`.
 */
function typeCheck(blocks: readonly CodeBlock[]): string[] {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (path) => ts.sys.readFile(path));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    noUnusedLocals: false,
    noUnusedParameters: false,
  };
  const files = new Map<string, { block: CodeBlock; text: string; preludeLines: number }>();
  blocks.forEach((block, n) => {
    const declared = new Set([
      ...importsOf(block.code).flatMap((imp) => imp.names.map((x) => x.name)),
      ...[
        ...block.code.matchAll(
          /\b(?:const|let|var|function|class|interface|type)\s+([A-Za-z_$][\w$]*)/g,
        ),
      ].map((m) => m[1] ?? ''),
    ]);
    const used = new Set(block.code.match(/[A-Za-z_$][\w$]*/g) ?? []);
    const missing = [...used].filter((name) => !declared.has(name));
    const values = missing.filter((name) => VALUE_EXPORTS.has(name));
    const types = missing.filter((name) => !VALUE_EXPORTS.has(name) && TYPE_EXPORTS.has(name));
    const prelude = [
      values.length > 0 ? `import { ${values.join(', ')} } from 'mcp-otel';` : '',
      types.length > 0 ? `import type { ${types.join(', ')} } from 'mcp-otel';` : '',
      ...Object.entries(FREE_NAMES)
        .filter(([name]) => missing.includes(name))
        .map(([name, type]) => `declare const ${name}: ${type};`),
    ].filter((line) => line !== '');
    const name = join(ROOT, 'test/docs', `snippet-${n}-${block.doc.path.replace(/\W/g, '_')}.mts`);
    files.set(name, {
      block,
      text: [...prelude, block.code, 'export {};', ''].join('\n'),
      preludeLines: prelude.length,
    });
  });
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (path) => files.has(path) || fileExists(path);
  host.readFile = (path) => files.get(path)?.text ?? readFile(path);
  host.getSourceFile = (path, language, ...rest) => {
    const virtual = files.get(path);
    return virtual
      ? ts.createSourceFile(path, virtual.text, language, true)
      : getSourceFile(path, language, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).flatMap((diagnostic) => {
    const file = diagnostic.file ? files.get(diagnostic.file.fileName) : undefined;
    if (!file || !diagnostic.file) return [];
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    const docLine = file.block.line + 1 + line - file.preludeLines;
    return [
      `${where(file.block.doc, docLine)}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`,
    ];
  });
}

// ── (b) options ────────────────────────────────────────────────────────────────────────────

/** Which interface an `option` table documents, from the prose around it. */
function optionsInterface(table: Table): keyof typeof OPTIONS | undefined {
  const context = `${table.headings.at(-1) ?? ''}\n${table.lead}`;
  if (/OpenTelemetry options/.test(table.lead)) return 'OtelSinkOptions';
  if (/EventBus/.test(context)) return 'EventBusOptions';
  if (/Middleware options/.test(table.lead) || /instrument\(/.test(context)) {
    return 'InstrumentOptions';
  }
  return undefined;
}

const OPTION_TABLES = DOCS.flatMap(tables).filter((t) => t.header[0]?.toLowerCase() === 'option');

describe('docs: options', () => {
  it('every option table is one of InstrumentOptions, OtelSinkOptions, EventBusOptions', () => {
    const mapped = OPTION_TABLES.map((t) => `${where(t.doc, t.line)} ${optionsInterface(t)}`);
    expect(mapped.filter((line) => line.endsWith('undefined'))).toEqual([]);
    expect(new Set(OPTION_TABLES.map(optionsInterface))).toEqual(
      new Set(['InstrumentOptions', 'OtelSinkOptions', 'EventBusOptions']),
    );
  });

  it('every option in a table is a field of its interface, and every field has a row', () => {
    const wrong: string[] = [];
    for (const table of OPTION_TABLES) {
      const name = optionsInterface(table);
      if (name === undefined) continue;
      const fields = OPTIONS[name];
      const documented = table.rows.flatMap((row) => ticked(row[0] ?? ''));
      for (const option of documented) {
        if (!fields.includes(option))
          wrong.push(`${where(table.doc, table.line)}: ${name} has no ${option}`);
      }
      for (const field of fields) {
        if (!documented.includes(field)) {
          wrong.push(`${where(table.doc, table.line)}: ${name}.${field} is not documented`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('the `batch` row names exactly the BatchProcessorOptions fields', () => {
    const rows = OPTION_TABLES.flatMap((t) => t.rows).filter((row) => row[0] === '`batch`');
    expect(rows).toHaveLength(1);
    const named = /\{([^}]*)\}/.exec(rows[0]?.join(' ') ?? '')?.[1] ?? '';
    expect(
      named
        .split(',')
        .map((s) => s.trim())
        .sort(),
    ).toEqual([...OPTIONS.BatchProcessorOptions].sort());
  });

  it('options written as calls in prose (`createJsonlSink({ path })`) exist', () => {
    const calls: Readonly<Record<string, readonly string[]>> = {
      instrument: INSTRUMENT_FIELDS,
      instrumentTransport: INSTRUMENT_FIELDS,
      createOtelSink: OPTIONS.OtelSinkOptions,
      createConsoleSink: OPTIONS.ConsoleSinkOptions,
      createJsonlSink: OPTIONS.JsonlSinkOptions,
      createMemorySink: OPTIONS.MemorySinkOptions,
      'new EventBus': OPTIONS.EventBusOptions,
    };
    const wrong: string[] = [];
    let checked = 0;
    for (const d of DOCS) {
      for (const span of inlineCode(d)) {
        const call = /^(new EventBus|\w+)\((?:[^,{)]*,\s*)?\{([^}]*)\}/.exec(span.code);
        const fields = call ? calls[call[1] ?? ''] : undefined;
        if (!call || !fields) continue;
        for (const key of (call[2] ?? '').matchAll(/([A-Za-z_$][\w$]*)\s*(?::|,|$)/g)) {
          checked++;
          if (!fields.includes(key[1] ?? '')) wrong.push(`${where(d, span.line)}: ${span.code}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });
});

// ── (c) the CLI ────────────────────────────────────────────────────────────────────────────

const HELP = helpText('0.0.0');
const HELP_FLAGS = new Set(HELP.match(/--[a-z][a-z-]*/g) ?? []);
const FLAG_NAMES = FLAGS.map((f) => f.name);

/** Splits a shell command line into words (quotes removed; no expansions). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
}

/** The arguments after `mcp-otel` on a command line, or undefined when it does not run it. */
function mcpOtelArgs(line: string): string[] | undefined {
  const words = shellWords(line.replace(/\s#.*$/, ''));
  const at = words.indexOf('mcp-otel');
  return at < 0 ? undefined : words.slice(at + 1);
}

const SHELL_LANGS = new Set(['sh', 'bash', 'shell', 'console', '']);

describe('docs: the CLI', () => {
  it('every `--flag` in prose is one `mcp-otel --help` lists', () => {
    const wrong: string[] = [];
    for (const d of DOCS) {
      for (const span of inlineCode(d)) {
        const flag = /^(--[a-z][a-z-]*)/.exec(span.code)?.[1];
        if (flag !== undefined && !HELP_FLAGS.has(flag))
          wrong.push(`${where(d, span.line)}: ${flag}`);
        const args = mcpOtelArgs(span.code);
        if (args === undefined) continue;
        const command = args[0];
        const end = args.indexOf('--');
        for (const word of end < 0 ? args : args.slice(0, end)) {
          if (!word.startsWith('--')) continue;
          const name = word.split('=')[0] ?? '';
          const spec = FLAGS.find((f) => f.name === name);
          const fits = spec
            ? spec.commands.some((c) => c === command)
            : (name === '--help' || name === '--version') && args.length === 1;
          if (!fits) wrong.push(`${where(d, span.line)}: ${span.code}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every mcp-otel command line in a code block parses', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const block of DOCS.flatMap(codeBlocks)) {
      if (!SHELL_LANGS.has(block.lang)) continue;
      const lines = block.code.replace(/\\\n/g, ' ').split('\n');
      for (const line of lines) {
        const args = mcpOtelArgs(line);
        if (
          args === undefined ||
          (block.lang === '' && !/^\s*(\w+=\S+\s+)*(npx\s+)?mcp-otel\s/.test(line))
        ) {
          continue;
        }
        checked++;
        try {
          parseArgs(args);
        } catch (error) {
          wrong.push(`${where(block.doc, block.line)}: ${line.trim()}: ${String(error)}`);
        }
      }
    }
    expect(checked).toBeGreaterThan(3);
    expect(wrong).toEqual([]);
  });

  it('every client config snippet is valid JSON whose mcp-otel arguments parse', () => {
    const wrong: string[] = [];
    let checked = 0;
    const visit = (value: unknown, block: CodeBlock): void => {
      if (Array.isArray(value)) {
        for (const item of value) visit(item, block);
        return;
      }
      if (typeof value !== 'object' || value === null) return;
      const entry = value as { command?: unknown; args?: unknown };
      if (Array.isArray(entry.args) && typeof entry.command === 'string') {
        const words = [entry.command, ...entry.args.map(String)];
        const at = words.indexOf('mcp-otel');
        if (at >= 0) {
          checked++;
          try {
            parseArgs(words.slice(at + 1));
          } catch (error) {
            wrong.push(`${where(block.doc, block.line)}: ${String(error)}`);
          }
        }
      }
      for (const child of Object.values(value)) visit(child, block);
    };
    for (const block of DOCS.flatMap(codeBlocks).filter((b) => b.lang === 'json')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(block.code);
      } catch (error) {
        wrong.push(`${where(block.doc, block.line)}: ${String(error)}`);
        continue;
      }
      visit(parsed, block);
    }
    expect(checked).toBeGreaterThanOrEqual(3);
    expect(wrong).toEqual([]);
  });

  it('docs/cli.md documents every flag, and VS Code gets its own config shape', () => {
    const cli = doc('docs/cli.md');
    const documented = new Set(inlineCode(cli).map((span) => span.code.split(/[\s=]/)[0]));
    expect(FLAG_NAMES.filter((name) => !documented.has(name))).toEqual([]);
    const vscode = codeBlocks(cli).find((b) => b.lang === 'json' && b.code.includes('"servers"'));
    const servers = (JSON.parse(vscode?.code ?? '{}') as { servers?: Record<string, unknown> })
      .servers;
    expect(Object.values(servers ?? {})).toContainEqual(expect.objectContaining({ type: 'stdio' }));
    expect(HELP).toContain('docs/cli.md');
  });
});

// ── (d) environment variables ──────────────────────────────────────────────────────────────

/**
 * Standard variables the docs may name although src/ never does, because the OpenTelemetry SDK
 * that mcp-otel starts reads them itself.
 */
const SDK_VARIABLES: ReadonlySet<string> = new Set([
  // The OTLP exporters merge OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS over OTEL_EXPORTER_OTLP_HEADERS
  // (@opentelemetry/otlp-exporter-base, otlp-node-http-env-configuration): Honeycomb's metrics
  // dataset header.
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  // The Node SDK's periodic metric reader (@opentelemetry/sdk-node, utils).
  'OTEL_METRIC_EXPORT_INTERVAL',
]);

const ENV_VAR = /\b(?:MCP_)?OTEL_[A-Z0-9_]*[A-Z0-9]\b/g;

describe('docs: environment variables', () => {
  it('every OTEL_* / MCP_OTEL_* variable named is read by src/ or by the SDK it starts', () => {
    const known = new Set(SOURCE_TEXT.match(ENV_VAR) ?? []);
    const wrong: string[] = [];
    const mentioned = new Set<string>();
    for (const d of DOCS) {
      for (const m of d.text.matchAll(ENV_VAR)) {
        mentioned.add(m[0]);
        if (!known.has(m[0]) && !SDK_VARIABLES.has(m[0])) {
          wrong.push(`${where(d, lineAt(d.text, m.index))}: ${m[0]}`);
        }
      }
    }
    expect(wrong).toEqual([]);
    // The allowlist holds nothing the docs do not need.
    expect([...SDK_VARIABLES].filter((name) => !mentioned.has(name))).toEqual([]);
  });
});

// ── (e) semantic conventions ───────────────────────────────────────────────────────────────

const SEMCONV_VALUES: ReadonlySet<string> = new Set(
  Object.values(semconv as Record<string, unknown>).filter(
    (value): value is string => typeof value === 'string',
  ),
);
const SEMCONV_NAMES = Object.entries(semconv)
  .filter(([key, value]) => /^(ATTR|METRIC|EVENT)_/.test(key) && typeof value === 'string')
  .map(([, value]) => value as string);

describe('docs: semantic conventions', () => {
  it('every attribute, metric and event name in a table is a constant of semconv.ts', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const table of DOCS.flatMap(tables)) {
      for (const name of ['attribute', 'attributes', 'metric', 'event']) {
        const at = column(table, name);
        if (at < 0) continue;
        for (const row of table.rows) {
          for (const token of ticked(row[at] ?? '')) {
            if (!/^[a-z_][\w.]*$/.test(token) || !token.includes('.')) {
              if (token.startsWith('.')) wrong.push(`${where(table.doc, table.line)}: ${token}`);
              continue;
            }
            checked++;
            if (!SEMCONV_VALUES.has(token)) wrong.push(`${where(table.doc, table.line)}: ${token}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(wrong).toEqual([]);
  });

  it('every error.type value in docs/semantic-conventions.md is one the sink sets', () => {
    const table = tables(doc('docs/semantic-conventions.md')).find(
      (t) => column(t, '`error.type`') >= 0,
    );
    expect(table).toBeDefined();
    const at = column(table!, '`error.type`');
    const values = table!.rows.flatMap((row) => ticked(row[at] ?? ''));
    expect(values.length).toBeGreaterThan(4);
    expect(values.filter((v) => !/^-\d+$/.test(v) && !SEMCONV_VALUES.has(v))).toEqual([]);
  });

  it('docs/semantic-conventions.md names every attribute, metric and event semconv.ts has', () => {
    const text = doc('docs/semantic-conventions.md').text;
    expect(SEMCONV_NAMES.filter((name) => !text.includes(`\`${name}\``))).toEqual([]);
  });
});

// ── events.md against src/events.ts ────────────────────────────────────────────────────────

const EVENT_INTERFACES = [
  'RequestEvent',
  'SessionStartEvent',
  'SessionEndEvent',
  'HeartbeatEvent',
  'SchemaVersionCreatedEvent',
];

describe('docs: events', () => {
  const events = doc('docs/events.md');
  const fieldTables = tables(events).filter((t) => t.header[0] === 'field');

  it('each event section lists exactly the fields of its interface', () => {
    const wrong: string[] = [];
    for (const name of EVENT_INTERFACES) {
      const fields = interfaceFields('src/events.ts', name);
      const type = literalType('src/events.ts', name);
      const table = fieldTables.find((t) => t.headings.at(-1) === `\`${type}\``);
      if (!table) {
        wrong.push(`no table for ${name} under ## \`${type}\``);
        continue;
      }
      const documented = new Set(table.rows.flatMap((row) => ticked(row[0] ?? '')));
      // `type` is the section itself.
      documented.add('type');
      for (const f of documented)
        if (!fields.includes(f)) wrong.push(`${where(events, table.line)}: ${name} has no ${f}`);
      for (const f of fields)
        if (!documented.has(f))
          wrong.push(`${where(events, table.line)}: ${name}.${f} is not documented`);
    }
    expect(wrong).toEqual([]);
  });

  it('the `note` values and the client platforms are the union types', () => {
    const all = tables(events);
    const notes = all.find((t) => t.header[0] === 'value');
    expect(notes?.rows.flatMap((row) => ticked(row[0] ?? '')).sort()).toEqual(
      literalUnion('src/events.ts', 'RequestNote').sort(),
    );
    const platforms = all.find((t) => t.header[0] === 'platform');
    expect(platforms?.rows.flatMap((row) => ticked(row[0] ?? '')).sort()).toEqual(
      literalUnion('src/events.ts', 'ClientPlatform').sort(),
    );
  });
});

/** The literal of an interface's `type` field. */
function literalType(path: string, name: string): string {
  let found: string | undefined;
  const visit = (node: ts.Node): void => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const member of node.members) {
        if (
          ts.isPropertySignature(member) &&
          member.name.getText(member.getSourceFile()) === 'type' &&
          member.type &&
          ts.isLiteralTypeNode(member.type) &&
          ts.isStringLiteral(member.type.literal)
        ) {
          found = member.type.literal.text;
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  const file = ts.createSourceFile(
    path,
    readFileSync(join(ROOT, path), 'utf8'),
    ts.ScriptTarget.Latest,
    true,
  );
  visit(file);
  if (found === undefined) throw new Error(`${name} has no literal type field`);
  return found;
}

// ── (f) links and paths, (g) npm scripts ───────────────────────────────────────────────────

describe('docs: links, paths and scripts', () => {
  it('every relative link resolves to a file, and every #anchor to a heading', () => {
    const wrong: string[] = [];
    for (const d of DOCS) {
      for (const m of d.prose.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1] ?? '';
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // http:, https:, mailto:
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? join(ROOT, d.path) : resolve(ROOT, dirname(d.path), path);
        const line = lineAt(d.prose, m.index);
        if (!existsSync(file)) {
          wrong.push(`${where(d, line)}: ${target}`);
          continue;
        }
        if (anchor !== undefined && file.endsWith('.md')) {
          const targetDoc = readDoc(relative(ROOT, file));
          if (!anchors(targetDoc).has(anchor)) wrong.push(`${where(d, line)}: ${target}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every repository path in backticks exists', () => {
    // Made by the reader (a copy of .env.example holding a key), by `npm run docs`, or by
    // `npm run bench` (its results are not committed): absent from a fresh clone.
    const madeLater = new Set(['examples/honeycomb/.env', 'docs/api', 'bench/results/latest.json']);
    const wrong: string[] = [];
    for (const d of DOCS) {
      for (const span of inlineCode(d)) {
        const path = span.code.replace(/^\.\//, '');
        if (!/^(examples|src|test|scripts|bench)\/[\w./-]*$/.test(path) || madeLater.has(path)) {
          continue;
        }
        if (!existsSync(join(ROOT, path))) wrong.push(`${where(d, span.line)}: ${span.code}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('every `npm run X` is a script of package.json', () => {
    const wrong: string[] = [];
    for (const d of DOCS) {
      for (const m of d.text.matchAll(/\bnpm run ([\w:.-]+)/g)) {
        if (!(m[1]! in PACKAGE.scripts))
          wrong.push(`${where(d, lineAt(d.text, m.index))}: ${m[0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

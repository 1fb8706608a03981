import type { ClientPlatform } from '../events.js';

/**
 * A whole word of the lower-cased name: for short needles that are also common word parts
 * (`optimized`, `authorized` contain "zed"; `incline`, `decline` contain "cline").
 */
const word = (needle: string): RegExp => new RegExp(`(?:^|[^a-z])${needle}(?:[^a-z]|$)`);

/**
 * Substring rules over the lower-cased client name, first match wins. The first five are the
 * ones the issue fixes (docs/events.md); the rest are clients common enough in the MCP
 * ecosystem to be worth a series of their own, and none of their names contain an earlier rule.
 */
const RULES: ReadonlyArray<readonly [ClientPlatform, ReadonlyArray<string | RegExp>]> = [
  ['claude', ['claude']],
  ['cursor', ['cursor']],
  ['chatgpt', ['chatgpt', 'openai']],
  // VS Code sent `Visual-Studio-Code` at first and sends `Visual Studio Code` now.
  ['vscode', ['copilot', 'vscode', 'vs-code', 'visual-studio-code', 'visual studio code']],
  ['windsurf', ['windsurf']],
  ['zed', [word('zed')]],
  ['cline', [word('cline')]],
  ['continue', ['continue']],
  ['goose', ['goose']],
  ['gemini', ['gemini']],
  ['mcp-inspector', ['inspector']],
];

// Every event asks, and a process almost always sees one client name: remember the last.
let lastName: string | undefined;
let lastPlatform: ClientPlatform = 'unknown';

/** Normalises a client name (`clientInfo.name`) to a low-cardinality platform. */
export function clientPlatform(clientName: string | undefined): ClientPlatform {
  if (!clientName) return 'unknown';
  if (clientName === lastName) return lastPlatform;
  lastPlatform = match(clientName);
  lastName = clientName;
  return lastPlatform;
}

function match(clientName: string): ClientPlatform {
  const name = clientName.toLowerCase();
  for (const [platform, needles] of RULES) {
    for (const needle of needles) {
      if (typeof needle === 'string' ? name.includes(needle) : needle.test(name)) return platform;
    }
  }
  return 'unknown';
}

import type { ClientPlatform } from '../events.js';

/**
 * Substring rules over the lower-cased client name, first match wins. The first five are the
 * ones the issue fixes (docs/events.md); the rest are clients common enough in the MCP
 * ecosystem to be worth a series of their own, and none of their names contain an earlier rule.
 */
const RULES: ReadonlyArray<readonly [ClientPlatform, readonly string[]]> = [
  ['claude', ['claude']],
  ['cursor', ['cursor']],
  ['chatgpt', ['chatgpt', 'openai']],
  ['vscode', ['copilot', 'vscode', 'vs-code', 'visual-studio-code']],
  ['windsurf', ['windsurf']],
  ['zed', ['zed']],
  ['cline', ['cline']],
  ['continue', ['continue']],
  ['goose', ['goose']],
  ['gemini', ['gemini']],
  ['mcp-inspector', ['inspector']],
];

/** Normalises a client name (`clientInfo.name`) to a low-cardinality platform. */
export function clientPlatform(clientName: string | undefined): ClientPlatform {
  if (!clientName) return 'unknown';
  const name = clientName.toLowerCase();
  for (const [platform, needles] of RULES) {
    for (const needle of needles) if (name.includes(needle)) return platform;
  }
  return 'unknown';
}

import { describe, expect, it } from 'vitest';
import type { ClientPlatform } from '../../src/events.js';
import { clientPlatform } from '../../src/session/client-platform.js';

const cases: ReadonlyArray<readonly [string | undefined, ClientPlatform]> = [
  // The rules the issue fixes, case-insensitive substrings.
  ['claude-ai', 'claude'],
  ['Claude Desktop', 'claude'],
  ['claude-code', 'claude'],
  ['CURSOR', 'cursor'],
  ['cursor-vscode', 'cursor'], // first match wins: cursor comes before vscode
  ['ChatGPT', 'chatgpt'],
  ['openai-mcp', 'chatgpt'],
  ['OpenAI Agents SDK', 'chatgpt'],
  ['GitHub Copilot', 'vscode'],
  ['Visual-Studio-Code', 'vscode'], // VS Code's clientInfo.name at first
  ['Visual Studio Code', 'vscode'], // and now
  ['Visual Studio Code - Insiders', 'vscode'],
  ['vs-code-insiders', 'vscode'],
  ['VSCode', 'vscode'],
  ['Windsurf', 'windsurf'],
  ['windsurf-openai', 'chatgpt'], // chatgpt|openai comes before windsurf
  ['claude-in-cursor', 'claude'],
  // Further clients.
  ['Zed', 'zed'],
  ['zed-editor', 'zed'],
  ['Cline', 'cline'],
  ['roo-cline', 'cline'],
  ['continue-client', 'continue'],
  ['goose', 'goose'],
  ['gemini-cli-mcp-client', 'gemini'],
  ['mcp-inspector', 'mcp-inspector'],
  // Nothing matches.
  ['my-own-client', 'unknown'],
  ['example-client', 'unknown'],
  ['', 'unknown'],
  [undefined, 'unknown'],
];

describe('clientPlatform', () => {
  it.each(cases)('%j → %s', (name, platform) => {
    expect(clientPlatform(name)).toBe(platform);
  });

  it.each([
    'optimized-agent',
    'authorized-client',
    'Sanitized MCP Bridge',
    'incline-bot',
    'decline-handler',
  ])('does not read a common word part as a client: %s', (name) => {
    expect(clientPlatform(name)).toBe('unknown');
  });
});

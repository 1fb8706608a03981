#!/usr/bin/env node
/**
 * The `mcp-otel` command. Writes only to stderr: under `wrap`, stdout belongs to the MCP
 * client.
 */
import { helpText, parseArgs, UsageError, type CliOptions } from './args.js';
import { runWrap } from './wrap.js';
import { INSTRUMENTATION_VERSION } from '../version.js';

export async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseArgs(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`mcp-otel: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  switch (options.command) {
    case 'help':
      process.stderr.write(helpText(INSTRUMENTATION_VERSION) + '\n');
      return 0;
    case 'version':
      process.stderr.write(`${INSTRUMENTATION_VERSION}\n`);
      return 0;
    case 'wrap': {
      const { code, signal } = await runWrap(options);
      if (signal) return endWithSignal(signal);
      return code;
    }
    case 'proxy': {
      const { runProxy } = await import('./proxy.js');
      return runProxy(options);
    }
    default:
      return options.command satisfies never;
  }
}

/** End the way the server ended, so whoever launched us sees the same status. */
function endWithSignal(signal: NodeJS.Signals): Promise<number> {
  process.kill(process.pid, signal);
  // Should the signal be ignored or handled elsewhere, still end, with the shell's convention.
  return new Promise((resolve) => setTimeout(() => resolve(128 + signalNumber(signal)), 1_000));
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`mcp-otel: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);

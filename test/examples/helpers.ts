/**
 * Running examples as a user would: `node --import tsx <file>` from the repository root, in a
 * child process (OTel globals stay in it), with a clean OTEL_* environment and a hard deadline.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function examplePath(relative: string): string {
  return fileURLToPath(new URL(`../../examples/${relative}`, import.meta.url));
}

/** `process.env` without any OTEL_* or example variable a developer or CI may have set, plus `extra`. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.startsWith('OTEL_')) continue;
    if (key === 'WEATHER_API_URL' || key === 'NOTES_URL' || key === 'NOTES_PORT') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs an example to completion. On `timeoutMs` the whole process group (the example and any
 * server it started) is killed and the promise rejects with what was printed so far.
 */
export function runExample(
  relative: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<RunResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', examplePath(relative)], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, so a timeout can take its children down too
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reject(new Error(`${relative} did not finish in ${timeoutMs} ms\n--- stderr:\n${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

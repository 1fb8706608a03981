import { describe, expect, it, vi } from 'vitest';
import { main } from '../../examples/custom-sink.js';

describe('examples/custom-sink.ts', () => {
  it('runs, prints events to stderr only, and the custom sink sums per-tool latency', async () => {
    const stdout = vi.spyOn(process.stdout, 'write');
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const stats = await main();
      expect(stdout).not.toHaveBeenCalled();
      const printed = stderr.mock.calls.map((call) => String(call[0])).join('');
      expect(printed).toMatch(/← tools\/call add .* ok/);
      expect(printed).toMatch(/tools\/call divide .* tool_error/);
      expect(printed).toContain('schema tools/list v1');
      expect(stats.summary()).toMatch(/add +1 calls +0 errors/);
      expect(stats.summary()).toMatch(/divide +2 calls +1 errors/);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});

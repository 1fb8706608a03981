import { it } from 'vitest';
it('probe', () => {
  for (const s of ['SIGTERM', 'SIGINT', 'beforeExit', 'exit']) console.log(s, process.listenerCount(s), process.listeners(s as 'SIGTERM').map(String));
});

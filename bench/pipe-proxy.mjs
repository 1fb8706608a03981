// The floor of any stdio proxy: a process that runs the server and pipes bytes both ways,
// nothing else. `node bench/pipe-proxy.mjs <command> [args...]`
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 1));

// A loopback OTLP/HTTP receiver for the benchmark: reads and discards every request, answers
// 200, and counts. Runs as its own process so its parsing is not charged to the variants'
// event loop. Prints its URL on stdout, then on SIGTERM the counts on stderr.
import { createServer } from 'node:http';

let requests = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`receiver: ${requests} requests, ${bytes} bytes\n`);
  server.close();
  process.exit(0);
});

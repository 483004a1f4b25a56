// Aedes, in memory, on 127.0.0.1:PORT with TCP_NODELAY (as ringmq and mosquitto-nodelay), for
// bench/compare.py. Usage: node server.mjs PORT. Stops on SIGTERM/SIGINT.
import { createServer } from 'node:net';
import { Aedes } from 'aedes';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node server.mjs PORT');
  process.exit(2);
}
const aedes = await Aedes.createBroker();
const server = createServer({ noDelay: true }, aedes.handle);
server.listen(port, '127.0.0.1', () => console.error(`aedes listening on 127.0.0.1:${port}`));
const stop = () => server.close(() => aedes.close(() => process.exit(0)));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

// Bench server: sockjs-node 0.3.24 (bench-local node_modules), same
// services as ours.py.
const http = require('http');
const sockjs = require('sockjs');

const opts = { log: () => {}, response_limit: 1 << 30 };
const echo = sockjs.createServer(opts);
echo.on('connection', (conn) => { conn.on('data', (m) => conn.write(m)); });

const clients = new Set();
const bcast = sockjs.createServer(opts);
bcast.on('connection', (conn) => {
  clients.add(conn);
  conn.on('data', (m) => { for (const c of clients) c.write(m); });
  conn.on('close', () => clients.delete(conn));
});

const server = http.createServer();
echo.installHandlers(server, { prefix: '/echo' });
bcast.installHandlers(server, { prefix: '/bcast' });
server.listen(parseInt(process.argv[2], 10), '127.0.0.1', 4096, () => console.log('LISTENING'));

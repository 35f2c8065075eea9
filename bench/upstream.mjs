// The http steps' upstream for the benchmarks: answers every request at once with a small JSON
// body and counts them (`GET /count` answers the count and is not counted).
// Usage: node bench/upstream.mjs PORT; prints "ready".
import http from "node:http";

let count = 0;
const server = http.createServer((req, res) => {
  if (req.url === "/count") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ count }));
    return;
  }
  count += 1;
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
  });
});
server.keepAliveTimeout = 60000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => process.exit(0));

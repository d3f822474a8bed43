// A tiny HTTP service: replace it with yours. Run by systemd as fleetdeck-node.
const http = require("http");
const port = Number(process.env.PORT || 3000);
http
  .createServer((req, res) => {
    const body = req.url === "/healthz" ? "ok\n" : "Hello from Fleetdeck\n";
    res.writeHead(200, { "Content-Type": "text/plain" });
    res.end(body);
  })
  .listen(port, () => console.log(`listening on ${port}`));

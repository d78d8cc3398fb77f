// A billhook webhook receiver: verifies every request with the svix library, answers 204.
//
//   npm ci            (in this directory; installs svix from package-lock.json)
//   WEBHOOK_SECRET=whsec_... PORT=9000 node receiver.mjs
//
// Environment: WEBHOOK_SECRET (the endpoint's signing secret, required), PORT (default 9000;
// 0 picks a free one), HOST (default 127.0.0.1), EXIT_AFTER=N (stop after N requests; for
// tests). With Express, use express.raw({ type: "application/json" }) on this route, never
// express.json(): the signature covers the raw bytes.
import { createServer } from "node:http";
import { Webhook } from "svix";

const secret = process.env.WEBHOOK_SECRET;
if (!secret) {
  console.error("set WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)");
  process.exit(2);
}
const wh = new Webhook(secret);
const exitAfter = Number(process.env.EXIT_AFTER ?? 0);
let handled = 0;

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    // 1. The raw bytes, exactly as sent.
    const payload = Buffer.concat(chunks);
    let event;
    try {
      // 2. Verify before using the body: signature, and a timestamp at most 5 minutes off.
      //    verify() returns the parsed JSON once the signature checks out.
      event = wh.verify(payload, req.headers);
    } catch (err) {
      console.log(`rejected: ${err.message}`);
      return answer(res, 400);
    }
    // 3. De-duplicate on svix-id: the same on every attempt and every resend.
    const msgId = req.headers["svix-id"];
    console.log(`verified ${event.properties.event_type} ${msgId} attempt ${event.attempt}`);
    answer(res, 204); // any 2xx within 15 seconds; do slow work after answering
  });
});

function answer(res, status) {
  res.writeHead(status, { "content-length": "0" });
  res.end(() => {
    handled += 1;
    if (exitAfter && handled >= exitAfter) {
      server.close();
      server.closeIdleConnections();
    }
  });
}

const host = process.env.HOST ?? "127.0.0.1";
server.listen(Number(process.env.PORT ?? 9000), host, () => {
  console.log(`listening on http://${host}:${server.address().port}/`);
});

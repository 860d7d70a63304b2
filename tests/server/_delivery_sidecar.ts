// One sidecar process of the three-process delivery test (delivery_processes_test.ts): a durable
// store, a server with an app id and delivery, listening on a loopback port; with --consume, the
// app itself: a worker on queue "inbox" that appends one line per handled message to a log file
// (synchronously, so a line written before a SIGKILL stays), the "app" whose deliveries we count.
//
// Usage: node tests/server/_delivery_sidecar.ts --app ID --store PATH --port N --peers JSON
//          --key KEY [--consume LOG] [--incarnation N]
// Protocol (stdout): "ready <port>" once listening; "fatal <text>" and exit 2 when it cannot start.
import { appendFileSync, writeSync } from "node:fs";
import { parseArgs } from "node:util";
import { openStore } from "../../adapters/store/mod.ts";
import { createServer, serve } from "../../server/mod.ts";

const { values } = parseArgs({
  options: {
    app: { type: "string" },
    store: { type: "string" },
    port: { type: "string", default: "0" },
    peers: { type: "string", default: "{}" },
    key: { type: "string" },
    consume: { type: "string" },
    incarnation: { type: "string", default: "1" },
  },
});
const say = (line: string) => writeSync(1, line + "\n");

try {
  const store = await openStore(values.store!);
  const peers = JSON.parse(values.peers!) as Record<string, string>;
  const server = createServer({
    store,
    appId: values.app!,
    delivery: {
      key: values.key!,
      peers,
      acceptFrom: ["a", "b", "c"],
      retry: { attempts: 200, backoff: { type: "exponential", delay: 25, max: 250 } },
      requestTimeoutMs: 2000,
    },
  });
  if (values.consume) {
    const log = values.consume;
    const incarnation = values.incarnation!;
    server.queue("inbox").process(async (job) => {
      await new Promise((r) => setTimeout(r, 2));
      const { seq } = job.data as { seq: number };
      appendFileSync(log, `${incarnation} ${seq} ${job.id}\n`);
    }, { concurrency: 4, leaseMs: 1000 });
  }
  const http = await serve(server, { port: Number(values.port), hostname: "127.0.0.1" });
  say(`ready ${http.port}`);
} catch (err) {
  say(`fatal ${(err as Error)?.stack ?? String(err)}`.replaceAll("\n", " | "));
  process.exit(2);
}

// The quick start: a durable store in ./kvq-data, two queues with workers (some attempts fail and
// are retried, a few jobs go dead), a producer adding jobs every second, and the dashboard on
// http://127.0.0.1:8787. Runs until Ctrl-C.
//
//   npm run demo                        (Node; same as: node examples/worker.ts)
//   bun examples/worker.ts
//   deno run -A examples/worker.ts
import process from "node:process";
import { runCli } from "../cli/cli.ts";

process.exitCode = await runCli(["demo", ...process.argv.slice(2)]);

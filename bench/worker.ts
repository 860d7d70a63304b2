// One worker process of the multi-process scenarios (d-drain-p1, d-drain-p4, e-latency-xproc):
// opens the queue another process made (`attach`), waits for "go" on stdin, consumes with the given
// concurrency and reports on stdout; "stop" on stdin stops it gracefully and it exits. Started by
// bench/procs.ts on the runtime of the child that runs the scenario:
//   <runtime> bench/worker.ts --variant <id> --name <queue> --dir <path> --concurrency <n>
//                             --mode drain|latency [--kvq-root <dir>]
// Lines it prints: "@@READY" (opened), "@@WORKING" (consuming), "@@N <k>" (drain: k more jobs ran,
// flushed every 2 ms), "@@L <i> <ms>" (latency: job i started <ms> after its add began, by the
// machine's clock), "@@STOPPED", "@@ERROR <message>". Anything else is the system's own output.
import process from "node:process";
import { createInterface } from "node:readline";
import { exit, type Instance, type Payload, type SystemModule, wallNow } from "./lib.ts";
import { variant } from "./systems.ts";

function arg(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function need(name: string): string {
  const v = arg(name);
  if (v === undefined) throw new TypeError(`worker.ts: missing --${name}`);
  return v;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

let inst: Instance | undefined;
try {
  const v = variant(need("variant"));
  const mode = need("mode");
  const concurrency = Number(need("concurrency"));
  const root = arg("kvq-root");
  const mod = await import(`./systems/${v.module}`) as SystemModule;
  const opened = await mod.open({
    dir: need("dir"),
    name: need("name"),
    options: root ? { ...v.options, root } : v.options,
    attach: true,
  });
  const instance = opened.instance;
  inst = instance;
  let ran = 0;
  const flush = () => {
    if (ran > 0) say(`@@N ${ran}`);
    ran = 0;
  };
  const timer = setInterval(flush, 2);
  const handler = mode === "latency"
    ? (data: Payload) => {
      const at = wallNow();
      say(`@@L ${data.i} ${at - (data.t ?? at)}`);
    }
    : () => {
      ran++;
    };
  say("@@READY");
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    if (line === "go") {
      await instance.work(handler, concurrency);
      say("@@WORKING");
    } else if (line === "stop") {
      await instance.stopWork();
      flush();
      clearInterval(timer);
      await instance.close();
      inst = undefined;
      say("@@STOPPED");
      break;
    }
  }
  exit(0);
} catch (e) {
  say(
    `@@ERROR ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`
      .replace(/\n/g, " "),
  );
  await inst?.close().catch(() => {});
  exit(1);
}

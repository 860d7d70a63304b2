// The parent side of the multi-process scenarios: starts worker processes (bench/worker.ts) on the
// runtime this child runs on, each opening the same queue, and relays what they report.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runtimeName } from "./lib.ts";

/** What a scenario needs to start worker processes on the system it measures. */
export interface ScenarioContext {
  /** The variant under test. */
  variant: string;
  /** The queue's unique name (schema), as the opened instance uses it. */
  name: string;
  /** The run's private directory. */
  dir: string;
  /** `--kvq-root` of the run, if any. */
  kvqRoot?: string;
}

/** Worker processes started by {@link startWorkers}. */
export interface WorkerGroup {
  /** The worker processes' ids. */
  readonly pids: readonly number[];
  /** Tells every process to start consuming; resolves when all of them consume. */
  go(): Promise<void>;
  /** Stops every process gracefully (each closes its instance); resolves when all have exited. */
  stop(): Promise<void>;
}

/** The command that runs `script` on this runtime. */
function command(script: string, args: string[]): [string, string[]] {
  if (runtimeName() === "deno") {
    return [process.execPath, [
      "run",
      "-A",
      "--unstable-kv",
      "--no-check",
      script,
      ...args,
    ]];
  }
  return [process.execPath, [script, ...args]];
}

/**
 * Starts `count` worker processes, each consuming with `concurrency` handlers in `mode` ("drain":
 * `onJobs(k)` for every k jobs run; "latency": `onLatency(i, ms)` per job). Resolves once every
 * process has opened the queue (not consuming yet: call `go`).
 */
export async function startWorkers(
  ctx: ScenarioContext,
  count: number,
  concurrency: number,
  mode: "drain" | "latency",
  on: {
    onJobs?: (k: number) => void;
    onLatency?: (i: number, ms: number) => void;
  },
): Promise<WorkerGroup> {
  const script = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const args = [
    "--variant",
    ctx.variant,
    "--name",
    ctx.name,
    "--dir",
    ctx.dir,
    "--concurrency",
    String(concurrency),
    "--mode",
    mode,
    ...(ctx.kvqRoot ? ["--kvq-root", ctx.kvqRoot] : []),
  ];
  const children: {
    child: ChildProcess;
    exited: Promise<void>;
    waiting: Map<string, () => void>;
  }[] = [];
  let failure: Error | null = null;
  const failures: ((e: Error) => void)[] = [];
  const fail = (e: Error) => {
    failure ??= e;
    for (const f of failures) f(e);
  };
  for (let w = 0; w < count; w++) {
    const [cmd, cmdArgs] = command(script, args);
    const child = spawn(cmd, cmdArgs, { stdio: ["pipe", "pipe", "inherit"] });
    child.stdin!.on("error", () => {}); // a process that already exited: its close says why
    const waiting = new Map<string, () => void>();
    let rest = "";
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (line.startsWith("@@N ")) on.onJobs?.(Number(line.slice(4)));
        else if (line.startsWith("@@L ")) {
          const [i, ms] = line.slice(4).split(" ").map(Number);
          on.onLatency?.(i, ms);
        } else if (line.startsWith("@@ERROR ")) {
          fail(new Error(`worker process ${w}: ${line.slice(8)}`));
        } else if (line.startsWith("@@")) {
          const tag = line.slice(2);
          waiting.get(tag)?.();
          waiting.delete(tag);
        } else if (line) process.stdout.write(`[worker ${w}] ${line}\n`);
      }
    });
    const exited = new Promise<void>((resolve) =>
      child.once("close", (code) => {
        if (code !== 0) {
          fail(new Error(`worker process ${w} exited with ${code}`));
        }
        resolve();
      })
    );
    children.push({ child, exited, waiting });
  }
  /** Resolves when every process has printed `@@<tag>`; rejects if one fails first. */
  const all = (tag: string, send?: string) =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure);
      failures.push(reject);
      let left = children.length;
      for (const c of children) {
        c.waiting.set(tag, () => {
          if (--left === 0) resolve();
        });
        if (send) c.child.stdin!.write(`${send}\n`);
      }
    });
  try {
    await all("READY");
  } catch (e) {
    for (const c of children) c.child.kill("SIGKILL");
    throw e;
  }
  return {
    pids: children.map((c) => c.child.pid ?? 0),
    go: () => all("WORKING", "go"),
    async stop() {
      for (const c of children) {
        if (c.child.exitCode === null) c.child.stdin!.write("stop\n");
        c.child.stdin!.end();
      }
      await Promise.all(children.map((c) => c.exited));
    },
  };
}

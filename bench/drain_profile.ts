// Where the engine's time per job goes: drains N no-op jobs on the memory store (as
// bench/engine_probe.ts does) under Node's sampling profiler, started after the fill, and prints
// the drain's self time grouped into what it is spent on (record codec, the store, the committer,
// the rules, the worker, garbage collection), then the top functions. Node only (node:inspector).
//   node bench/drain_profile.ts [N] [concurrency] [--save /tmp/drain.cpuprofile]
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
import process from "node:process";
import { MemoryKv } from "../adapters/memory/mod.ts";
import { Queue } from "../src/queue.ts";

const args = process.argv.slice(2);
const N = Number(args[0] ?? 100_000);
const CONCURRENCY = Number(args[1] ?? 256);
const save = args.includes("--save") ? args[args.indexOf("--save") + 1] : undefined;

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The group a function's self time counts in, by file (and for built-ins, by name). */
function group(fn: string, url: string): string {
  if (fn === "(garbage collector)") return "garbage collection";
  if (
    /src\/(payload|utf8)\.ts$/.test(url) ||
    /^(encode|encodeInto|decode|encodeUtf8String|decodeUTF8)$/.test(fn)
  ) {
    return "job record codec (JSON, UTF-8)";
  }
  if (/adapters\/|src\/(atomic_op|key_codec|list_range)\.ts$/.test(url)) {
    return "store (memory adapter, atomic op, key codec)";
  }
  if (/src\/committer\.ts$/.test(url)) {
    return "committer (packing, conflicts, count deltas)";
  }
  if (/src\/(job|job_store|lease|keys|job_record)\.ts$/.test(url)) {
    return "rules and write units (transition, claim, fenced writes)";
  }
  if (
    /src\/(worker|executor|timer_wheel|clock|context|ids|events|notifier)\.ts$/
      .test(url)
  ) return "worker loop and executor";
  if (url.includes("node:inspector")) return "profiler itself";
  return "other (runtime, promises, program)";
}

const queue = new Queue<number>(new MemoryKv(), "probe");
for (let i = 0; i < N; i += 1000) {
  await queue.addBulk(
    Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ data: i + j })),
  );
}
const session = new Session();
session.connect();
await session.post("Profiler.enable");
await session.post("Profiler.setSamplingInterval", { interval: 100 });
await session.post("Profiler.start");
let done = 0;
const c1 = process.cpuUsage();
const t1 = performance.now();
const finished = new Promise<void>((resolve) => queue.on("completed", () => ++done === N && resolve()));
const worker = queue.process(() => {}, { concurrency: CONCURRENCY });
await finished;
const t2 = performance.now();
const c2 = process.cpuUsage();
const { profile } = (await session.post("Profiler.stop")) as unknown as {
  profile: Profile;
};
await worker.close();
if (save) writeFileSync(save, JSON.stringify(profile));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
let total = 0;
const groups = new Map<string, number>();
const fns = new Map<string, number>();
for (const [id, t] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const fn = functionName || "(anonymous)";
  total += t;
  const g = group(fn, url);
  groups.set(g, (groups.get(g) ?? 0) + t);
  const name = `${fn} ${url.split("/").slice(-2).join("/")}:${lineNumber + 1}`;
  fns.set(name, (fns.get(name) ?? 0) + t);
}
const wallUs = (t2 - t1) * 1000 / N;
console.log(
  `node: drained ${N} jobs at concurrency ${CONCURRENCY}: ${(N / (t2 - t1) * 1000).toFixed(0)} jobs/s, ` +
    `${wallUs.toFixed(1)} us wall/job, ${
      ((c2.user + c2.system - c1.user - c1.system) / N).toFixed(1)
    } us CPU/job`,
);
console.log(
  "\nself time of the drain, by group (share, and us of wall time per job):",
);
for (const [g, t] of [...groups].sort((a, b) => b[1] - a[1])) {
  console.log(
    `${(t / total * 100).toFixed(1).padStart(6)}%  ${(t / total * wallUs).toFixed(2).padStart(6)} us  ${g}`,
  );
}
console.log("\ntop functions (self time):");
for (const [f, t] of [...fns].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
  console.log(`${(t / total * 100).toFixed(1).padStart(6)}%  ${f}`);
}

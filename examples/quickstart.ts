// The README's main example: add a job, process it (the first attempt fails and is retried),
// wait for the result, shut down. Run it with `node examples/quickstart.ts`, `bun examples/quickstart.ts`
// or `deno run -A examples/quickstart.ts`.
import { Queue } from "../mod.ts";
import { MemoryKv } from "../adapters/memory/mod.ts";

const store = new MemoryKv(); // transient; for a durable store: await openStore("./jobs.db") from "../adapters/store/mod.ts"
const emails = new Queue<{ to: string }, string>(store, "emails", { backoff: 100 });
emails.addEventListener("retrying", () => console.log("attempt 1 failed, retrying in 100 ms"));

let tries = 0;
const worker = emails.process((job, ctx) => {
  if (++tries === 1) throw new Error("SMTP timeout"); // the first attempt fails
  return `sent to ${job.data.to} on attempt ${ctx.attempt}`;
});

const job = await emails.add({ to: "ada@example.com" });
console.log(await emails.result(job.id));
await worker.close({ timeout: 5_000 }); // graceful: waits for running jobs, up to 5 s
await store.close();

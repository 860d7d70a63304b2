/**
 * `Queue.result()`: waits for a job to end, woken by this process's `ended` signals and, for
 * changes made elsewhere, by polling every poll interval.
 *
 * @module
 */

import { CanceledError, JobFailedError, JobNotFoundError } from "./errors.ts";
import type { QueueContext } from "./context.ts";
import { read, views } from "./job_store.ts";

/** Waits for job `id` to end; resolves with its result, rejects when dead, canceled or missing. */
export function result<T, R>(ctx: QueueContext<T, R>, id: string, signal?: AbortSignal): Promise<R> {
  const clock = ctx.clock;
  const poll = ctx.settings.pollInterval;
  return new Promise<R>((resolve, reject) => {
    let timer: unknown;
    let done = false;
    let checking = false;
    let again = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      off();
      if (timer !== undefined) clock.clearTimer(timer);
      signal?.removeEventListener("abort", onAbort);
      f();
    };
    const onAbort = () => finish(() => reject(signal!.reason));
    const check = async () => {
      if (done) return;
      if (checking) {
        again = true;
        return;
      }
      checking = true;
      try {
        let began: number;
        do {
          again = false;
          began = clock.now();
          const e = await read(ctx, id);
          if (!e) return finish(() => reject(new JobNotFoundError(id, ctx.name)));
          const r = e.record;
          if (r.state === "completed") {
            const job = (await views(ctx, [e]))[0];
            return finish(() => resolve(job.result as R));
          }
          if (r.state === "dead") {
            return finish(() => reject(new JobFailedError(id, r.reason ?? "exhausted", r.error)));
          }
          if (r.state === "canceled") return finish(() => reject(new CanceledError(id)));
          // A read that took a poll interval or more: read again now, not after another one.
        } while (again || clock.now() - began >= poll);
        if (timer !== undefined) clock.clearTimer(timer);
        timer = clock.setTimer(() => {
          timer = undefined;
          void check();
        }, began + poll - clock.now());
      } catch (err) {
        finish(() => reject(err));
      } finally {
        checking = false;
      }
    };
    // Subscribe before the first read, so an ending between the two is not missed.
    const off = ctx.subscribe((s) => {
      if (s.type === "ended" && s.id === id) void check();
    });
    if (signal?.aborted) return finish(() => reject(signal.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    void check();
  });
}

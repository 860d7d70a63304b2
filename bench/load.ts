// The machine's load beside every measured run: the 1-minute load average before and after each child,
// and which runs differ by more than 1 from the run beside them (measured just before or after).
import { loadavg } from "node:os";

/** The machine's 1-minute load average, rounded to 2 decimals. */
export function load1(): number {
  return Math.round(loadavg()[0] * 100) / 100;
}

/** A run's load: the 1-minute load average when its child started and when it ended. */
export interface RunLoad {
  /** 1-minute load average just before the child started. */
  before: number;
  /** 1-minute load average just after the child ended. */
  after: number;
}

/** The load a run ran under, for comparing runs: the mean of its before and after readings. */
export function runLoad(l: RunLoad): number {
  return (l.before + l.after) / 2;
}

/** Largest difference between two runs' loads that is not flagged. */
export const LOAD_TOLERANCE = 1;

/**
 * For runs in the order they ran, whether each differs in load by more than {@link LOAD_TOLERANCE}
 * from a run beside it (the one before or the one after): their timings are not comparable.
 */
export function loadFlags(sequence: readonly RunLoad[]): boolean[] {
  return sequence.map((l, i) => {
    const mine = runLoad(l);
    const near = [sequence[i - 1], sequence[i + 1]].filter((x): x is RunLoad => x !== undefined);
    return near.some((x) => Math.abs(runLoad(x) - mine) > LOAD_TOLERANCE);
  });
}

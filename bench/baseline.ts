// The "before" side of a before/after run (`run.ts --baseline <git-rev>`): a checkout of an older kvq
// commit beside this one, from which the same kvq systems run as extra rows named `<id>@<rev>`. The
// current harness's child runs against the old library (bench/systems/kvq.ts imports it from `root`).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import type { Variant } from "./systems.ts";

/** Raised when the baseline checkout cannot be prepared (unknown rev, git failing). */
export class BaselineError extends Error {
  override name = "BaselineError";
}

/** An older commit's checkout, ready to import the library from. */
export interface Baseline {
  /** The commit, abbreviated (7 hex digits): the suffix of its rows' ids. */
  readonly rev: string;
  /** Absolute directory of the checkout. */
  readonly root: string;
}

function git(repo: string, args: string[]): string {
  const r = spawnSync("git", args, { cwd: repo, encoding: "utf8" });
  if (r.status !== 0) {
    throw new BaselineError(
      `git ${args.join(" ")} failed in ${repo}: ${(r.stderr || r.stdout).trim()}`,
    );
  }
  return r.stdout.trim();
}

/** The commit checked out at `repo` (`git describe --always --dirty`), if it is a git checkout. */
export function gitCommit(repo: string): string | undefined {
  const r = spawnSync(
    "git",
    ["describe", "--always", "--dirty", "--abbrev=12"],
    {
      cwd: repo,
      encoding: "utf8",
    },
  );
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/**
 * Extracts commit `rev` of the repository at `repo` into `<repo>/.tmp/baseline-<rev>` (git archive: the
 * tracked files only, no worktree bookkeeping in the repository) with a `node_modules` symlink to the
 * project's, once; later calls reuse it.
 */
export function prepareBaseline(repo: string, rev: string): Baseline {
  if (!rev || rev.startsWith("-")) {
    throw new TypeError(`--baseline needs a git revision, got "${rev}"`);
  }
  const sha = git(repo, [
    "rev-parse",
    "--verify",
    "--short=7",
    `${rev}^{commit}`,
  ]);
  const root = join(repo, ".tmp", `baseline-${sha}`);
  if (!existsSync(join(root, "package.json"))) {
    const partial = `${root}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial, { recursive: true });
    const tar = spawnSync("sh", [
      "-c",
      `git archive --format=tar ${sha} | tar -x -C "${partial}"`,
    ], {
      cwd: repo,
      encoding: "utf8",
    });
    if (tar.status !== 0) {
      rmSync(partial, { recursive: true, force: true });
      throw new BaselineError(
        `could not extract ${sha} into ${partial}: ${tar.stderr.trim()}`,
      );
    }
    rmSync(root, { recursive: true, force: true });
    renameSync(partial, root);
  }
  if (!existsSync(join(root, "node_modules"))) {
    symlinkSync(join(repo, "node_modules"), join(root, "node_modules"), "dir");
  }
  return { rev: sha, root };
}

/** The same kvq variant, run against the baseline checkout: id `<id>@<rev>`, never a default. */
export function baselineVariant(v: Variant, b: Baseline): Variant {
  if (v.group !== "kvq") {
    throw new TypeError(`--baseline measures kvq systems only, not ${v.id}`);
  }
  return {
    ...v,
    id: `${v.id}@${b.rev}`,
    config: `${v.config}, kvq at ${b.rev}`,
    byDefault: false,
    baseline: { of: v.id, rev: b.rev, root: b.root },
  };
}

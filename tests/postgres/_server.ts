// A throwaway PostgreSQL server of a test's own (never the shared one): initdb into a temp dir,
// started with pg_ctl on a free port, stopped with an immediate shutdown (as a crash does) and
// started again, removed after. Runs the binaries as the `postgres` user when this process is
// root (postgres refuses to run as root). The binaries come from KVQ_PG_BIN, or the newest
// /usr/lib/postgresql/<version>/bin; without them `throwawayUnavailable()` says why.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** The directory holding initdb, pg_ctl and postgres, or null when none is found. */
function binDir(): string | null {
  const env = process.env.KVQ_PG_BIN;
  if (env) return existsSync(join(env, "pg_ctl")) ? env : null;
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? join(root, versions[0], "bin") : null;
}

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

/** Why a throwaway server cannot be made here, or false when it can. */
export function throwawayUnavailable(): string | false {
  if (process.platform !== "linux") return "the throwaway PostgreSQL server is made on Linux only";
  if (binDir() === null) {
    return "no PostgreSQL server binaries (initdb, pg_ctl) found: install postgresql, or set KVQ_PG_BIN " +
      "to their directory";
  }
  if (isRoot && !existsSync("/usr/sbin/runuser") && !existsSync("/sbin/runuser")) {
    return "running as root, and runuser (needed to start postgres as the postgres user) is missing";
  }
  if (isRoot && !/^postgres:/m.test(readFileSync("/etc/passwd", "utf8"))) {
    return "running as root, and there is no postgres user to run the server as (postgres refuses root)";
  }
  return false;
}

/** Runs a command (as the postgres user when root); rejects with its output when it fails. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  return new Promise((resolve, reject) => {
    execFile(file, argv, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(String(stdout));
    });
  });
}

/** A free TCP port on 127.0.0.1 (free when asked; the server binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A PostgreSQL server of the test's own. */
export interface ThrowawayServer {
  /** Its connection string (database `postgres`, user `postgres`, trust auth). */
  readonly url: string;
  /** Immediate shutdown: every backend is killed at once, no checkpoint (crash recovery on start). */
  crash(): Promise<void>;
  /** Starts it again on the same port and data directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it (immediately) and removes its directory. */
  destroy(): Promise<void>;
  /** The server's log so far (for failure messages). */
  log(): string;
}

/**
 * Creates and starts a throwaway server. Check {@link throwawayUnavailable} first.
 *
 * @returns The running server; call `destroy()` when done.
 */
export async function startThrowaway(): Promise<ThrowawayServer> {
  const bin = binDir()!;
  const dir = mkdtempSync(join(tmpdir(), "kvq-pg-"));
  const data = join(dir, "data"), logFile = join(dir, "server.log");
  if (isRoot) {
    await new Promise<void>((resolve, reject) => {
      execFile("chown", ["postgres:", dir], (err) => (err ? reject(err) : resolve()));
    });
  }
  const port = await freePort();
  const pgCtl = join(bin, "pg_ctl");
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    "-c listen_addresses=127.0.0.1",
    "-c max_connections=60",
    "-c shared_buffers=16MB",
    "-c fsync=on",
    "-c synchronous_commit=on",
  ].join(" ");
  const server: ThrowawayServer = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async crash() {
      await run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]);
    },
    async start() {
      await run(pgCtl, ["-D", data, "-l", logFile, "-o", options, "-w", "-t", "60", "start"]);
    },
    async destroy() {
      try {
        // Also after a start that failed half-way: a postmaster may be up.
        await run(pgCtl, ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
    log: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "(no server log)";
      }
    },
  };
  try {
    await run(join(bin, "initdb"), ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync"], 120_000);
    await server.start();
  } catch (e) {
    await server.destroy();
    throw e;
  }
  return server;
}

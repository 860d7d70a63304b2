// A minimal Redis client (RESP2 over node:net) for the harness itself: CONFIG GET/SET around the
// appendfsync-always runs, INFO, and removing leftover benchmark keys. No dependency needed.
import { Buffer } from "node:buffer";
import { connect, type Socket } from "node:net";

/** A Redis reply: simple string, error, integer, bulk string (null when absent) or array. */
export type Reply = string | number | null | Error | Reply[];

/** One connection that sends commands one at a time. */
export class Redis {
  #socket: Socket;
  #buffer = "";
  #waiting: ((r: Reply) => void)[] = [];
  #failed: Error | null = null;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      this.#buffer += chunk;
      this.#drain();
    });
    socket.on("error", (e: Error) => {
      this.#failed = e;
      for (const w of this.#waiting.splice(0)) w(e);
    });
  }

  /** Connects to host:port; rejects after `timeoutMs`. */
  static open(
    host = "127.0.0.1",
    port = 6379,
    timeoutMs = 1000,
  ): Promise<Redis> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new Error(
            `Redis at ${host}:${port} did not answer within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(new Redis(socket));
      });
      socket.once("error", (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  /** Sends one command; resolves with its reply (a Redis error reply rejects). */
  async command(...args: string[]): Promise<Reply> {
    if (this.#failed) throw this.#failed;
    let out = `*${args.length}\r\n`;
    for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
    const reply = await new Promise<Reply>((resolve) => {
      this.#waiting.push(resolve);
      this.#socket.write(out);
    });
    if (reply instanceof Error) throw reply;
    return reply;
  }

  /** Closes the connection. */
  close(): void {
    this.#socket.end();
    this.#socket.destroy();
  }

  #drain(): void {
    while (this.#waiting.length > 0) {
      const parsed = parse(this.#buffer, 0);
      if (!parsed) return;
      this.#buffer = this.#buffer.slice(parsed.end);
      this.#waiting.shift()!(parsed.value);
    }
  }
}

// Parses one reply at `at`; null when the buffer does not hold all of it yet. Lengths are in bytes,
// which equal characters for the ASCII keys and values the harness uses.
function parse(buf: string, at: number): { value: Reply; end: number } | null {
  const nl = buf.indexOf("\r\n", at);
  if (nl < 0) return null;
  const type = buf[at];
  const line = buf.slice(at + 1, nl);
  if (type === "+") return { value: line, end: nl + 2 };
  if (type === "-") return { value: new Error(line), end: nl + 2 };
  if (type === ":") return { value: Number(line), end: nl + 2 };
  if (type === "$") {
    const len = Number(line);
    if (len < 0) return { value: null, end: nl + 2 };
    if (buf.length < nl + 2 + len + 2) return null;
    return { value: buf.slice(nl + 2, nl + 2 + len), end: nl + 2 + len + 2 };
  }
  if (type === "*") {
    const count = Number(line);
    if (count < 0) return { value: null, end: nl + 2 };
    const items: Reply[] = [];
    let end = nl + 2;
    for (let i = 0; i < count; i++) {
      const item = parse(buf, end);
      if (!item) return null;
      items.push(item.value);
      end = item.end;
    }
    return { value: items, end };
  }
  throw new Error(`Redis: unexpected reply type ${JSON.stringify(type)}`);
}

/** Reads one field of `INFO <section>` ("used_memory", "aof_rewrite_in_progress", ...). */
export async function info(
  redis: Redis,
  section: string,
  field: string,
): Promise<string | undefined> {
  const text = String(await redis.command("INFO", section));
  return text.match(new RegExp(`^${field}:(.*)$`, "m"))?.[1]?.trim();
}

/** Deletes every key matching `pattern` (SCAN + UNLINK in batches); returns how many. */
export async function unlinkMatching(
  redis: Redis,
  pattern: string,
): Promise<number> {
  let cursor = "0";
  let removed = 0;
  for (let i = 0; i < 1_000_000; i++) {
    const [next, keys] = (await redis.command(
      "SCAN",
      cursor,
      "MATCH",
      pattern,
      "COUNT",
      "1000",
    )) as [
      string,
      string[],
    ];
    if (keys.length > 0) {
      removed += Number(await redis.command("UNLINK", ...keys));
    }
    cursor = next;
    if (cursor === "0") break;
  }
  return removed;
}

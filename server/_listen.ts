/**
 * Listening with a `node:http` or `node:http2` server (on Node, Bun and Deno alike): resolves with
 * the port bound once it listens, rejects with the listen error (a port in use, a refused address).
 *
 * @module
 */

/** What `listen` needs of a node:http / node:http2 server. */
export interface Listenable {
  listen(port: number, hostname: string, callback: () => void): unknown;
  once(event: "error", listener: (err: Error) => void): unknown;
  off(event: "error", listener: (err: Error) => void): unknown;
  address(): unknown;
}

/** Listens on `hostname:port`; resolves the port bound (the one chosen for port 0). */
export async function listen(server: Listenable, port: number, hostname: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, hostname, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as { port?: number } | string | null;
  return typeof address === "object" && address?.port !== undefined ? address.port : port;
}

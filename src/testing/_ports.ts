import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Lowest port {@link freePort} picks. */
const LOWEST = 20000;
/** Ports tried at random before falling back to one the kernel picks. */
const TRIES = 20;

/**
 * First port of the kernel's ephemeral range (`ip_local_port_range`), from which outgoing
 * connections take their local port; 32768 (Linux' default) when it cannot be read. Read once.
 */
let ephemeral: number | undefined;
function ephemeralStart(): number {
  if (ephemeral !== undefined) return ephemeral;
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    ephemeral = Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    ephemeral = 32768;
  }
  return ephemeral;
}

/** Listens on `port` and closes again: the port bound, or undefined when it is taken (`EADDRINUSE`). */
function tryListen(port: number): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => (err.code === 'EADDRINUSE' ? resolve(undefined) : reject(err)));
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A free TCP port on 127.0.0.1, released before returning, for a server a test starts next.
 * It is picked at random below the kernel's ephemeral range: a port of that range (what
 * listening on port 0 gives) can be taken by any outgoing connection of the machine between its
 * release here and the server's bind, and tests open many. Falls back to a port the kernel
 * picks when none of the tried ports is free.
 */
export async function freePort(): Promise<number> {
  const high = ephemeralStart();
  if (high - LOWEST > 1000) {
    for (let i = 0; i < TRIES; i++) {
      const port = await tryListen(LOWEST + Math.floor(Math.random() * (high - LOWEST)));
      if (port !== undefined) return port;
    }
  }
  return (await tryListen(0))!;
}

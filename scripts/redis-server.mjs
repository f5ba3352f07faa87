// A redis-server of its own for a test, the benchmark or the cluster demo: Debian's `redis-server`
// as a plain child process on a free 127.0.0.1 port, stopped by its user (and killed with this
// process if that dies first). scripts/setup.sh installs it when missing.

import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/** A free TCP port on 127.0.0.1 (free when asked; redis-server takes it right after). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {net.AddressInfo} */ (s.address());
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts redis-server. `durable`: with an append-only file written on every change in a temporary
 * directory, so that a restart (even after SIGKILL) finds every write (the restart test); else
 * nothing is written to disk.
 * @param {{ durable?: boolean }} [options]
 */
export async function startRedis(options = {}) {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "execman-redis-"));
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--dir", dir, "--loglevel", "warning"];
  if (options.durable) args.push("--appendonly", "yes", "--appendfsync", "always");
  else args.push("--appendonly", "no");
  /** @type {import("node:child_process").ChildProcess | null} */
  let child = null;
  const launch = async () => {
    const p = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    child = p;
    let out = "";
    p.stdout?.on("data", (d) => {
      out += d;
    });
    p.stderr?.on("data", (d) => {
      out += d;
    });
    // Ready when it accepts a connection.
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (p.exitCode !== null) throw new Error(`redis-server exited (${p.exitCode}): ${out}`);
      const ok = await new Promise((resolve) => {
        const c = net.connect(port, "127.0.0.1");
        c.on("connect", () => {
          c.write("PING\r\n");
        });
        c.on("data", (d) => {
          c.destroy();
          resolve(String(d).startsWith("+PONG"));
        });
        c.on("error", () => resolve(false));
      });
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`redis-server did not start: ${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const exited = () =>
    new Promise((resolve) => {
      if (child === null || child.exitCode !== null || child.signalCode !== null) resolve(undefined);
      else child.once("exit", () => resolve(undefined));
    });
  await launch();
  const onExit = () => child?.kill("SIGKILL");
  process.once("exit", onExit);
  return {
    port,
    connection: { host: "127.0.0.1", port },
    /** Kills it at once (SIGKILL): nothing is flushed but what is already on disk. */
    async kill() {
      const done = exited();
      child?.kill("SIGKILL");
      await done;
    },
    /** Starts it again on the same port and directory. */
    async restart() {
      await launch();
    },
    /** Stops it and removes its directory. */
    async stop() {
      process.removeListener("exit", onExit);
      const done = exited();
      child?.kill("SIGTERM");
      await done;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

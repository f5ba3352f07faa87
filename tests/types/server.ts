// Typed usage of execman/server (checked by tsc --noEmit).
import { ExecutionManager } from "execman";
import { serve, createListener, type Authorize, type ServeConfig, type Served } from "execman/server";
import { createServer, type IncomingMessage } from "node:http";

export async function start(): Promise<Served> {
  const manager = new ExecutionManager();
  const served: Served = await serve(manager, { port: 0, host: "127.0.0.1" });
  const url: string = served.url;
  void url;
  createServer(createListener(manager));
  // @ts-expect-error the port is a number
  await serve(manager, { port: "8080" });
  return served;
}

export async function hardened(): Promise<Served> {
  const manager = new ExecutionManager();
  const authorize: Authorize = async (req: IncomingMessage) => req.socket.remoteAddress === "127.0.0.1";
  const config: ServeConfig = {
    manager,
    port: 0,
    token: "secret",
    authorize,
    cors: { origin: ["http://localhost:3000"], maxAge: 60 },
    allowedHosts: ["api.lan", ".corp.example"],
    limits: { maxBodyBytes: 1 << 20, maxInFlightBytes: 64 << 20, headersTimeout: 10_000, requestTimeout: 30_000 },
  };
  const served = await serve(config);
  await serve({ manager, allowedHosts: true, authorize: () => true });
  createServer(createListener({ manager, token: "secret", cors: { origin: "http://localhost:3000" } }));
  createServer(createListener(manager, { limits: { maxBodyBytes: 1024 } }));
  // @ts-expect-error authorize answers a boolean
  await serve({ manager, authorize: () => "yes" });
  // @ts-expect-error the manager is required in the one-argument form
  await serve({ port: 0 });
  // @ts-expect-error limits are numbers
  await serve({ manager, limits: { maxBodyBytes: "1MB" } });
  return served;
}

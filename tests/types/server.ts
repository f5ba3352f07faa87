// Typed usage of execman/server (checked by tsc --noEmit).
import { ExecutionManager } from "execman";
import { serve, createListener, type Served } from "execman/server";
import { createServer } from "node:http";

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

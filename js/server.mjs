// ESM entry of execman/server.
import server from "./server.cjs";

export const serve = server.serve;
export const createListener = server.createListener;

"use strict";
// execman/server: serves an ExecutionManager's REST routes (/api/v1/executions…) over node:http.
//
//   const { ExecutionManager } = require("execman");
//   const { serve } = require("execman/server");
//   const { url, close } = await serve({ manager: new ExecutionManager(), port: 8080 });
//
// Each request that passes the checks below becomes a standard `Request` and is answered by
// `manager.fetch()`, so the routes, status codes and error bodies are exactly the router's (the
// contract's "REST"). Before that, in this order, a request is refused when:
//   1. its Host header names neither this server nor one of `allowedHosts`  → 421 MISDIRECTED_REQUEST
//      (a CORS preflight from the `cors` origin is answered 204 here, before authentication)
//   2. `token` is set and `Authorization: Bearer <token>` is missing or wrong → 401 UNAUTHORIZED
//      `authorize(req)` does not return (or resolve to) true                  → 401 UNAUTHORIZED
//   3. it is a POST (with or without a body: a cross-site form posts without one) or a DELETE with
//      a body, its path takes that method, and its media type is not application/json
//                                                                              → 415 UNSUPPORTED_MEDIA_TYPE
//      (a method the path does not take — PUT, PATCH, TRACE, PROPFIND…, or a POST to a GET-only
//      path — goes to the router unread, which answers 405 with the path's methods in `Allow`, or
//      404 for an unknown path; a DELETE without a body needs no media type: no page can send a
//      DELETE to another origin without a preflight, which only the `cors` origin passes)
//   4. its body is over `limits.maxBodyBytes`                                  → 413 PAYLOAD_TOO_LARGE
//      or the bodies being received at once would pass `limits.maxInFlightBytes`
//                                                                              → 503 RESOURCE_EXHAUSTED
// Every refusal has the router's error shape `{ "error": { "code", "message" } }`.
//
// The two stream routes (`…/{id}/events`, `/api/v1/events`) answer a `text/event-stream` from
// `manager.fetch()`; its body is written chunk by chunk as the manager queues it, and cancelled
// when the client goes (see `stream` below).

const crypto = require("node:crypto");
const http = require("node:http");
const net = require("node:net");

/** @import { IncomingMessage, ServerResponse } from "node:http" */
/** @import { AddressInfo } from "node:net" */
/** @import { Authorize, Listener, ListenerOptions, RestHost, ServeOptions, Served, ServerLimits } from "./server.js" */

const MiB = 1024 * 1024;

/** The defaults of `limits`. */
const LIMITS = Object.freeze({
  maxBodyBytes: 1 * MiB,
  maxInFlightBytes: 64 * MiB,
  headersTimeout: 10_000,
  requestTimeout: 30_000,
});

/** The Host names a server reached on a loopback address answers to (any port). */
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];

/**
 * The methods the routes take (the router's table, `ROUTES` in src/core/rest/route.rs, which the
 * OpenAPI document lists; a request with any other method is answered by the router without
 * reading its body: 405 with `Allow` on a known path, 404 on an unknown one).
 */
const ROUTED_METHODS = ["GET", "POST", "DELETE"];

/** What a CORS preflight from the configured origin is told. */
const CORS_ALLOW_METHODS = ROUTED_METHODS.join(", ");
const CORS_ALLOW_HEADERS = "content-type, authorization";
const CORS_EXPOSE_HEADERS = "allow, location";
const CORS_MAX_AGE = 600;

/**
 * Options checked and turned into what each request needs.
 * @typedef {object} Config
 * @property {number} maxBodyBytes
 * @property {number} maxInFlightBytes
 * @property {number} headersTimeout
 * @property {number} requestTimeout
 * @property {Buffer | null} tokenDigest SHA-256 of the token: compared in constant time.
 * @property {Authorize | null} authorize
 * @property {Set<string> | null} corsOrigins
 * @property {number} corsMaxAge
 * @property {HostRule} hosts
 */

/**
 * @typedef {object} HostRule
 * @property {boolean} any `allowedHosts: true`: every Host is accepted.
 * @property {Set<string>} names Host names accepted with any port (lowercase; IPv6 in brackets).
 * @property {Set<string>} namesWithPort `name:port` pairs accepted.
 * @property {string[]} suffixes ".example.com": that name and every name under it.
 */

/**
 * A refusal answered here rather than by the router.
 * @typedef {object} Refusal
 * @property {number} status
 * @property {string} code
 * @property {string} message
 * @property {Record<string, string>} [headers]
 */

/**
 * The JSON body of an error answered here rather than by the router (same shape as the router's).
 * @param {string} code
 * @param {string} message
 */
function errorBody(code, message) {
  return JSON.stringify({ error: { code, message } });
}

/**
 * The message of a thrown value: its `message` when it has a non-empty one, else the value itself.
 * @param {unknown} error
 */
function messageOf(error) {
  const message = /** @type {{ message?: unknown } | null | undefined} */ (error)?.message;
  return String(message ? message : error);
}

/**
 * Whether `value` has the two REST entry points of a manager.
 * @param {unknown} value
 * @returns {value is RestHost}
 */
function isRestHost(value) {
  const v = /** @type {{ fetch?: unknown, handle?: unknown } | null | undefined} */ (value);
  return typeof v?.fetch === "function" && typeof v?.handle === "function";
}

// ---- options ------------------------------------------------------------------------------------

/**
 * A positive number of bytes or milliseconds from `limits`, or its default.
 * @param {ServerLimits} limits
 * @param {keyof typeof LIMITS} name
 * @param {number | undefined} [fallback] an older spelling of the same option
 */
function limit(limits, name, fallback) {
  const value = limits[name] ?? fallback ?? LIMITS[name];
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`execman/server: limits.${name} must be a positive finite number, got ${String(value)}`);
  }
  return value;
}

/**
 * `host` or `host:port` from a Host header or an `allowedHosts` entry, lowercase, IPv6 in
 * brackets; null when it is not one.
 * @param {string} value
 * @returns {{ name: string, port: string | null } | null}
 */
function parseHost(value) {
  const text = value.trim().toLowerCase();
  if (net.isIPv6(text)) return { name: `[${text}]`, port: null }; // a bare IPv6 entry: "::1"
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::([0-9]{1,5}))?$/.exec(text);
  if (!m?.[1]) return null;
  if (m[1].startsWith("[") && !net.isIPv6(m[1].slice(1, -1))) return null;
  return { name: m[1], port: m[2] ?? null };
}

/**
 * The Host rule: `allowedHosts` plus the `host` option when it is a name (an address is
 * matched by `localNames` per connection).
 * @param {ListenerOptions["allowedHosts"]} allowed
 * @param {string | undefined} host
 * @returns {HostRule}
 */
function hostRule(allowed, host) {
  /** @type {HostRule} */
  const rule = { any: false, names: new Set(), namesWithPort: new Set(), suffixes: [] };
  if (allowed === true) return { ...rule, any: true };
  if (allowed !== undefined && !Array.isArray(allowed)) {
    throw new TypeError("execman/server: allowedHosts must be an array of host names, or true");
  }
  const bound = host === undefined || net.isIP(host) !== 0 ? [] : [host];
  for (const entry of [...(allowed ?? []), ...bound]) {
    if (typeof entry !== "string") throw new TypeError("execman/server: allowedHosts entries must be strings");
    if (entry.startsWith(".") && entry.length > 1) {
      rule.suffixes.push(entry.toLowerCase());
      continue;
    }
    const parsed = parseHost(entry);
    if (parsed === null) throw new TypeError(`execman/server: ${JSON.stringify(entry)} is not a host name`);
    if (parsed.port === null) rule.names.add(parsed.name);
    else rule.namesWithPort.add(`${parsed.name}:${Number(parsed.port)}`);
  }
  return rule;
}

/**
 * The configured CORS origins, each as a browser sends it in `Origin`.
 * @param {ListenerOptions["cors"]} cors
 * @returns {Set<string> | null}
 */
function corsOrigins(cors) {
  if (cors === undefined) return null;
  const list = typeof cors?.origin === "string" ? [cors.origin] : cors?.origin;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError("execman/server: cors.origin must be an origin string or a non-empty array of them");
  }
  const origins = new Set();
  for (const origin of list) {
    let parsed = "null";
    try {
      parsed = new URL(String(origin)).origin;
    } catch {}
    if (parsed === "null")
      throw new TypeError(`execman/server: cors.origin ${JSON.stringify(origin)} is not an origin`);
    origins.add(parsed);
  }
  return origins;
}

/**
 * Checks the options once, before any request.
 * @param {ListenerOptions} options
 * @returns {Config}
 */
function configure(options) {
  if (options === null || typeof options !== "object") throw new TypeError("execman/server: options must be an object");
  const limits = options.limits ?? {};
  if (typeof limits !== "object" || limits === null) throw new TypeError("execman/server: limits must be an object");
  const headersTimeout = limit(limits, "headersTimeout");
  const requestTimeout = limit(limits, "requestTimeout");
  if (headersTimeout > requestTimeout) {
    throw new TypeError("execman/server: limits.headersTimeout must not be longer than limits.requestTimeout");
  }
  const { token, authorize, cors } = options;
  if (token !== undefined && (typeof token !== "string" || token === "")) {
    throw new TypeError("execman/server: token must be a non-empty string");
  }
  if (authorize !== undefined && typeof authorize !== "function") {
    throw new TypeError("execman/server: authorize must be a function");
  }
  const maxAge = cors?.maxAge ?? CORS_MAX_AGE;
  if (typeof maxAge !== "number" || !(maxAge >= 0) || !Number.isFinite(maxAge)) {
    throw new TypeError("execman/server: cors.maxAge must be a number of seconds");
  }
  return {
    maxBodyBytes: limit(limits, "maxBodyBytes", options.maxBodyBytes),
    maxInFlightBytes: limit(limits, "maxInFlightBytes"),
    headersTimeout,
    requestTimeout,
    tokenDigest: token === undefined ? null : digest(token),
    authorize: authorize ?? null,
    corsOrigins: corsOrigins(cors),
    corsMaxAge: Math.floor(maxAge),
    hosts: hostRule(options.allowedHosts, options.host),
  };
}

/**
 * @param {string} text
 */
function digest(text) {
  return crypto.createHash("sha256").update(text, "utf8").digest();
}

// ---- the checks ---------------------------------------------------------------------------------

/**
 * The Host names a connection that arrived on `address` answers to: the loopback names for a
 * loopback address, else that address itself.
 * @param {string | undefined} address
 * @returns {string[]}
 */
function localNames(address) {
  if (address === undefined) return [];
  const plain = address.startsWith("::ffff:") && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
  if (plain === "::1" || (net.isIPv4(plain) && plain.startsWith("127."))) return LOOPBACK_NAMES;
  return [net.isIPv6(plain) ? `[${plain}]` : plain];
}

/**
 * Whether the Host header names this server: the address the connection arrived on (any port),
 * or an allowed host. Browsers send the name of the URL they fetch, so a page whose name was
 * re-pointed at this machine (DNS rebinding) sends its own name and is refused.
 * @param {HostRule} rule
 * @param {IncomingMessage} req
 */
function hostAllowed(rule, req) {
  if (rule.any) return true;
  const header = req.headers.host;
  if (typeof header !== "string") return false;
  const host = parseHost(header);
  if (host === null) return false;
  if (rule.names.has(host.name) || localNames(req.socket.localAddress).includes(host.name)) return true;
  if (host.port !== null && rule.namesWithPort.has(`${host.name}:${Number(host.port)}`)) return true;
  return rule.suffixes.some((suffix) => host.name === suffix.slice(1) || host.name.endsWith(suffix));
}

/**
 * Whether `Authorization: Bearer <token>` carries the token (compared in constant time: both
 * sides are hashed to the same length first).
 * @param {Buffer} expected SHA-256 of the token
 * @param {IncomingMessage} req
 */
function bearerMatches(expected, req) {
  const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? "");
  return crypto.timingSafeEqual(digest(m?.[1] ?? ""), expected) && m !== null;
}

/**
 * Whether the request's media type is application/json (case-insensitive, any parameters).
 * @param {IncomingMessage} req
 */
function isJson(req) {
  const type = req.headers["content-type"];
  return typeof type === "string" && type.split(";", 1)[0]?.trim().toLowerCase() === "application/json";
}

/**
 * The CORS headers a response to this request carries: none unless `cors` is configured; then
 * `Vary: Origin` on every response, and the allow headers only for a configured origin.
 * @param {Config} config
 * @param {IncomingMessage} req
 * @returns {Record<string, string>}
 */
function corsHeaders(config, req) {
  if (config.corsOrigins === null) return {};
  const origin = req.headers.origin;
  if (typeof origin !== "string" || !config.corsOrigins.has(origin)) return { vary: "Origin" };
  return {
    vary: "Origin",
    "access-control-allow-origin": origin,
    "access-control-expose-headers": CORS_EXPOSE_HEADERS,
  };
}

/**
 * Whether this is a CORS preflight from a configured origin.
 * @param {Config} config
 * @param {IncomingMessage} req
 */
function isPreflight(config, req) {
  return (
    req.method === "OPTIONS" &&
    config.corsOrigins !== null &&
    typeof req.headers.origin === "string" &&
    config.corsOrigins.has(req.headers.origin) &&
    typeof req.headers["access-control-request-method"] === "string"
  );
}

/**
 * Runs the authentication checks: null when the request may go on, else why not.
 * @param {Config} config
 * @param {IncomingMessage} req
 * @returns {Promise<Refusal | null>}
 */
async function authenticate(config, req) {
  if (config.tokenDigest !== null && !bearerMatches(config.tokenDigest, req)) {
    return {
      status: 401,
      code: "UNAUTHORIZED",
      message: "this server needs an Authorization: Bearer token",
      headers: { "www-authenticate": 'Bearer realm="execman"' },
    };
  }
  if (config.authorize === null) return null;
  let allowed;
  try {
    allowed = await config.authorize(req);
  } catch (error) {
    // A failing check is the server's fault, not the client's: 500, and the request is refused.
    console.error("execman/server: authorize() threw; the request was refused with 500", error);
    return { status: 500, code: "INTERNAL", message: "the authorization check failed" };
  }
  if (allowed === true) return null;
  return { status: 401, code: "UNAUTHORIZED", message: "the request was not authorized" };
}

// ---- bodies -------------------------------------------------------------------------------------

/**
 * The bytes of the bodies being received by one listener, across all its requests.
 * @typedef {{ bytes: number }} Budget
 */

/**
 * Reads a JSON request's body within the limits. `release` gives its bytes back to the budget
 * once the router has answered; null when the client went away first.
 * @param {Config} config
 * @param {Budget} budget
 * @param {IncomingMessage} req
 * @returns {Promise<{ body: Buffer, release: () => void } | Refusal | null>}
 */
function receive(config, budget, req) {
  const declared = Number(req.headers["content-length"] ?? 0); // Node has checked it is digits
  const tooLarge = () => ({
    status: 413,
    code: "PAYLOAD_TOO_LARGE",
    message: `request body larger than ${config.maxBodyBytes} bytes`,
  });
  const exhausted = () => ({
    status: 503,
    code: "RESOURCE_EXHAUSTED",
    message: "too many request bodies are being received; retry later",
    headers: { "retry-after": "1" },
  });
  if (declared > config.maxBodyBytes) return Promise.resolve(tooLarge());
  if (budget.bytes + declared > config.maxInFlightBytes) return Promise.resolve(exhausted());
  if (req.destroyed) return Promise.resolve(null); // the client went away during authorize()
  return new Promise((resolve) => {
    /** @type {Buffer[]} */
    let chunks = [];
    let held = 0;
    const release = () => {
      budget.bytes -= held;
      held = 0;
      chunks = [];
    };
    /** @param {{ body: Buffer, release: () => void } | Refusal | null} outcome */
    const finish = (outcome) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("close", onClose);
      req.off("error", onClose);
      if (outcome === null || "status" in outcome) release();
      resolve(outcome);
    };
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      if (held + chunk.length > config.maxBodyBytes) return finish(tooLarge());
      if (budget.bytes + chunk.length > config.maxInFlightBytes) return finish(exhausted());
      budget.bytes += chunk.length;
      held += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => {
      const body = Buffer.concat(chunks);
      chunks = [];
      finish({ body, release });
    };
    const onClose = () => finish(null); // the client went away (or the request timed out)
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("close", onClose);
    req.on("error", onClose);
  });
}

// ---- answering ----------------------------------------------------------------------------------

/**
 * Whether the request announced a body (Node has already checked the framing headers).
 * @param {IncomingMessage} req
 */
function hasBody(req) {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/**
 * Whether the router takes `method` on the request's path. Asked with OPTIONS, which no route
 * takes: the answer is the path's 405 and its `Allow` (or a 404), and changes nothing.
 * @param {RestHost} manager
 * @param {string} method
 * @param {IncomingMessage} req
 */
function takes(manager, method, req) {
  const path = new URL(req.url || "/", "http://127.0.0.1").pathname;
  const allow = manager.handle({ method: "OPTIONS", path }).headers?.allow;
  return allow?.split(", ").includes(method) === true;
}

/**
 * Answers a refusal. A request whose body was not read to its end gets `Connection: close`:
 * the server stops reading it.
 * @param {ServerResponse} res
 * @param {IncomingMessage} req
 * @param {Record<string, string>} cors
 * @param {Refusal} refusal
 */
function refuse(res, req, cors, { status, code, message, headers = {} }) {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const unread = hasBody(req) && !req.complete;
  const text = errorBody(code, message);
  res.writeHead(status, {
    ...cors,
    ...headers,
    "content-type": "application/json",
    "content-length": String(Buffer.byteLength(text)),
    ...(unread ? { connection: "close" } : {}),
  });
  res.end(text);
  if (unread) req.resume(); // discard what is on its way until the socket closes
}

/**
 * Passes a request to the router and writes its answer. A request whose body was not read (a
 * method the routes do not take) gets `Connection: close`, as a refusal does.
 * @param {RestHost} manager
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {Record<string, string>} cors
 * @param {Buffer | null} body
 */
async function route(manager, req, res, cors, body) {
  const method = req.method || "GET";
  const url = new URL(req.url || "/", "http://127.0.0.1");
  if (body === null && hasBody(req) && !req.complete) {
    cors = { ...cors, connection: "close" };
    req.resume(); // discard what is on its way until the socket closes
  }
  let request;
  try {
    request = new Request(url, {
      method,
      // Buffer.concat allocates from a plain (never shared) ArrayBuffer, which `BodyInit` asks for.
      body: body !== null && body.length > 0 ? /** @type {Uint8Array<ArrayBuffer>} */ (body) : undefined,
      headers: { "content-type": req.headers["content-type"] || "application/json" },
    });
  } catch {
    // Methods the Fetch standard forbids (CONNECT, TRACE…): the router still answers.
    request = null;
  }
  if (request) {
    const response = await manager.fetch(request);
    if (response.body !== null && isEventStream(response)) return stream(response.body, req, res, response, cors);
    const payload = Buffer.from(await response.arrayBuffer());
    res.writeHead(response.status, { ...Object.fromEntries(response.headers), ...cors });
    res.end(payload.length > 0 ? payload : undefined);
  } else {
    const { status, body: answer, headers } = manager.handle({ method, path: url.pathname, query: url.search });
    const text = answer === null ? undefined : JSON.stringify(answer);
    res.writeHead(status, {
      ...headers,
      ...cors,
      ...(text === undefined ? {} : { "content-type": "application/json" }),
    });
    res.end(text);
  }
}

/**
 * Whether a response of the router is an event stream (the two stream routes of `fetch()`).
 * @param {Response} response
 */
function isEventStream(response) {
  return /^text\/event-stream\b/i.test(response.headers.get("content-type") ?? "");
}

/**
 * Writes an event stream as it comes: each chunk as soon as the manager queues it, waiting for the
 * socket to drain when it is full (the stream then holds what follows; a reader more than 4 MiB
 * behind is cut off by the manager). The client going (the socket closes) cancels the stream, which
 * leaves no subscription behind; the stream ending (an execution's terminal snapshot) ends the
 * response. Node's request timeouts concern the request only: a response may last.
 * @param {ReadableStream<Uint8Array>} body
 * @param {IncomingMessage} req
 * @param {ServerResponse} res
 * @param {Response} response
 * @param {Record<string, string>} cors
 */
async function stream(body, req, res, response, cors) {
  const reader = body.getReader();
  let gone = false;
  /** @type {(() => void) | null} */
  let wake = null;
  const onClose = () => {
    gone = true;
    reader.cancel().catch(() => {});
    wake?.();
  };
  res.once("close", onClose);
  try {
    res.writeHead(response.status, {
      ...Object.fromEntries(response.headers),
      ...cors,
      "x-accel-buffering": "no", // proxies that buffer responses (nginx) pass this one on at once
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);
    for (;;) {
      const { done, value } = await reader.read();
      if (done || gone) break;
      if (!res.write(value)) {
        await new Promise((resolve) => {
          const drained = () => {
            res.off("drain", drained);
            wake = null;
            resolve(undefined);
          };
          wake = drained;
          res.once("drain", drained);
        });
        if (gone) break;
      }
    }
    if (!gone) res.end();
  } catch {
    // The stream errored (its reader fell too far behind, or the manager was freed): cut it off.
    res.destroy();
  } finally {
    res.off("close", onClose);
  }
}

/**
 * The listener of a checked configuration (shared by `serve` and `createListener`).
 * @param {RestHost} manager
 * @param {Config} config
 * @returns {Listener}
 */
function listener(manager, config) {
  /** @type {Budget} */
  const budget = { bytes: 0 };
  return async function execmanListener(req, res) {
    /** @type {Record<string, string>} */
    let cors = {};
    try {
      if (!hostAllowed(config.hosts, req)) {
        return refuse(res, req, cors, {
          status: 421,
          code: "MISDIRECTED_REQUEST",
          message: `this server does not answer for the host ${JSON.stringify(String(req.headers.host ?? "").slice(0, 200))}`,
        });
      }
      cors = corsHeaders(config, req);
      if (isPreflight(config, req)) {
        res.writeHead(204, {
          ...cors,
          "access-control-allow-methods": CORS_ALLOW_METHODS,
          "access-control-allow-headers": CORS_ALLOW_HEADERS,
          "access-control-max-age": String(config.corsMaxAge),
        });
        res.end();
        return;
      }
      const denied = await authenticate(config, req);
      if (denied !== null) return refuse(res, req, cors, denied);
      const method = (req.method || "GET").toUpperCase();
      const unread = method === "GET" || !ROUTED_METHODS.includes(method) || (method === "DELETE" && !hasBody(req));
      if (unread) return await route(manager, req, res, cors, null);
      if (!isJson(req)) {
        // Refused only where a route would read it; elsewhere the router's 405 (with Allow) or 404.
        if (!takes(manager, method, req)) return await route(manager, req, res, cors, null);
        return refuse(res, req, cors, {
          status: 415,
          code: "UNSUPPORTED_MEDIA_TYPE",
          message: `a ${method} request must have Content-Type: application/json (even without a body)`,
        });
      }
      const received = await receive(config, budget, req);
      if (received === null) return; // the client went away
      if ("status" in received) return refuse(res, req, cors, received);
      try {
        await route(manager, req, res, cors, received.body);
      } finally {
        received.release();
      }
    } catch (error) {
      // The manager's own failure (a freed manager, a full memory budget) rather than the router's.
      const code = /** @type {{ code?: unknown } | null | undefined} */ (error)?.code;
      const exhausted = code === "RESOURCE_EXHAUSTED";
      refuse(res, req, cors, {
        status: exhausted ? 503 : 500,
        code: exhausted ? code : "INTERNAL",
        message: messageOf(error),
      });
    }
  };
}

/**
 * The manager and options of either call form: `(options)` with `options.manager`, or
 * `(manager, options)`.
 * @template {ListenerOptions} O
 * @param {string} name
 * @param {unknown} first
 * @param {O | undefined} second
 * @returns {{ manager: RestHost, options: O }}
 */
function callForm(name, first, second) {
  if (isRestHost(first)) return { manager: first, options: second ?? /** @type {O} */ ({}) };
  const options = /** @type {O & { manager?: unknown }} */ (first);
  if (isRestHost(options?.manager)) return { manager: options.manager, options };
  throw new TypeError(`execman/server: ${name}() needs a manager: ${name}({ manager, … })`);
}

/**
 * A `(req, res)` listener for your own `http.createServer` that answers every request with the
 * manager's REST routes, with the checks of `serve` (but not its timeouts: set `headersTimeout`
 * and `requestTimeout` on your server). Throws a TypeError for invalid options.
 * @param {RestHost | (ListenerOptions & { manager: RestHost })} managerOrOptions
 * @param {ListenerOptions} [options]
 * @returns {Listener}
 * @example
 * http.createServer(createListener(new ExecutionManager(), { token: process.env.TOKEN })).listen(8080, "127.0.0.1");
 */
function createListener(managerOrOptions, options) {
  const { manager, options: chosen } = callForm("createListener", managerOrOptions, options);
  return listener(manager, configure(chosen));
}

/**
 * Serves the manager on `host:port` (default 127.0.0.1 and an ephemeral port), with the
 * hardening checks and limits described at the top of this file.
 * Resolves with `{ url, port, server, close }` once listening; rejects for invalid options or
 * when the port cannot be bound. `close()` stops the server and closes open connections.
 * @param {RestHost | (ServeOptions & { manager: RestHost })} managerOrOptions
 * @param {ServeOptions} [options] with the `(manager, options)` form
 * @returns {Promise<Served>}
 * @example
 * const { url, close } = await serve({ manager: new ExecutionManager(), port: 8080, token: process.env.TOKEN });
 */
async function serve(managerOrOptions, options) {
  const { manager, options: chosen } = callForm("serve", managerOrOptions, options);
  const { port = 0, host = "127.0.0.1" } = chosen;
  const config = configure(chosen);
  const server = http.createServer(
    {
      headersTimeout: config.headersTimeout,
      requestTimeout: config.requestTimeout,
      // Node checks both timeouts every `connectionsCheckingInterval` ms (30 s by default).
      connectionsCheckingInterval: Math.max(10, Math.min(1000, Math.floor(config.headersTimeout / 4))),
    },
    listener(manager, config),
  );
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve(undefined);
    });
  });
  // Listening on a TCP host and port: an AddressInfo, never a pipe name or null.
  const address = /** @type {AddressInfo} */ (server.address());
  const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
  /** @returns {Promise<void>} */
  const close = () =>
    new Promise((done, fail) => {
      server.close((err) => (err ? fail(err) : done()));
      server.closeAllConnections();
    });
  return { url: `http://${shown}:${address.port}`, port: address.port, server, close };
}

module.exports = { serve, createListener };

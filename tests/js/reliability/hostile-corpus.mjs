// The never-trap check: every method of an ExecutionManager called with a corpus of hostile
// arguments in every argument position (and in every field of its object arguments), plus
// handler results and thrown values, ctx.progress, handle() and fetch().
//
// Each call must either succeed or throw an Error named "ExecutionError" with the code the
// contract gives for that position (handle answers 400 and fetch resolves a 400 Response for a
// malformed request); a call that throws must leave every held execution and counts() exactly as
// they were; at the end every fixture execution is unchanged, counts() is back to its baseline,
// and a fresh create + wait completes.
//
// No Node.js APIs here: tests/js/reliability/hostile.test.mjs runs it in Node and
// tests/browser/hostile.test.mjs runs the very same file in headless Chromium against the web
// build. `runNeverTrap` returns a plain JSON report; the callers assert on it.

const MB10 = 10 * 1024 * 1024;

/** The contract's JSON-compatible rule, never throwing (a throwing trap means "not compatible"). */
export function jsonCompatible(v, level = 1) {
  try {
    switch (typeof v) {
      case "number":
        return Number.isFinite(v);
      case "string":
        return v.isWellFormed();
      case "boolean":
        return true;
      case "object":
        break;
      default:
        return false;
    }
    if (v === null) return true;
    if (level > 128) return false;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (!jsonCompatible(v[i], level + 1)) return false;
      return true;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const k of Object.keys(v)) if (!k.isWellFormed() || !jsonCompatible(v[k], level + 1)) return false;
    return true;
  } catch {
    return false;
  }
}

/** "plain" | "other" | "throws" (inspecting it ran a trap that threw). */
function objectKind(v) {
  if (v === null || (typeof v !== "object" && typeof v !== "function")) return "primitive";
  if (typeof v === "function") return "function";
  try {
    if (Array.isArray(v)) return "array";
    const proto = Object.getPrototypeOf(v);
    return proto === Object.prototype || proto === null ? "plain" : "other";
  } catch {
    return "throws";
  }
}

const wellFormed = (v) => typeof v === "string" && v.isWellFormed();
const nonEmpty = (v) => wellFormed(v) && v.length > 0;

const FIELD_NAMES = [
  "targetId",
  "id",
  "type",
  "inputs",
  "config",
  "timeoutMs",
  "status",
  "page",
  "pageSize",
  "order",
  "cursor",
  "concurrency",
  "maxFinished",
  "message",
  "code",
  "name",
  "stack",
  "reason",
  "method",
  "path",
  "query",
  "body",
  "url",
  "text",
  "length",
  "then",
  "toJSON",
  "constructor",
  "signal",
  "throttleMs",
];

/** The hostile values, freshly built. `reenter(m)` (optional) is called from inside getters. */
export function hostileCorpus({ reenter, long = false } = {}) {
  const throwingTraps = {
    get() {
      throw new Error("get trap");
    },
    set() {
      throw new Error("set trap");
    },
    has() {
      throw new Error("has trap");
    },
    ownKeys() {
      throw new Error("ownKeys trap");
    },
    getOwnPropertyDescriptor() {
      throw new Error("gOPD trap");
    },
    getPrototypeOf() {
      throw new Error("getPrototypeOf trap");
    },
    defineProperty() {
      throw new Error("defineProperty trap");
    },
    deleteProperty() {
      throw new Error("deleteProperty trap");
    },
    isExtensible() {
      throw new Error("isExtensible trap");
    },
    preventExtensions() {
      throw new Error("preventExtensions trap");
    },
    setPrototypeOf() {
      throw new Error("setPrototypeOf trap");
    },
    apply() {
      throw new Error("apply trap");
    },
    construct() {
      throw new Error("construct trap");
    },
  };
  const nonErrorTraps = Object.fromEntries(
    Object.keys(throwingTraps).map((k) => [
      k,
      () => {
        throw Symbol("thrown symbol");
      },
    ]),
  );
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const throwingGetters = {};
  for (const k of FIELD_NAMES)
    Object.defineProperty(throwingGetters, k, {
      enumerable: true,
      get() {
        throw new TypeError(`getter ${k}`);
      },
    });
  const symbolGetters = {};
  for (const k of FIELD_NAMES)
    Object.defineProperty(symbolGetters, k, {
      enumerable: true,
      get() {
        throw Symbol(k);
      },
    });
  const reentrant = {};
  for (const k of FIELD_NAMES) {
    Object.defineProperty(reentrant, k, {
      enumerable: true,
      get() {
        reenter?.();
        return undefined;
      },
    });
  }
  const deepArrays = (() => {
    let v = [];
    for (let i = 0; i < 10_000; i++) v = [v];
    return v;
  })();
  const deepObjects = (() => {
    let v = {};
    for (let i = 0; i < 10_000; i++) v = { a: v };
    return v;
  })();
  const cycle = { a: 1 };
  cycle.self = cycle;
  const arrayCycle = [1];
  arrayCycle.push(arrayCycle);
  const hugeSparse = [];
  hugeSparse.length = 2 ** 32 - 1;
  class Point {
    constructor() {
      this.x = 1;
    }
  }
  class MyArray extends Array {}
  const nullProto = Object.create(null);
  nullProto.targetId = "t";
  nullProto.a = 1;
  const withSymbolKey = { ok: 1, [Symbol("k")]: 2 };
  const nonEnumerable = Object.defineProperty({ shown: 1 }, "hidden", { value: () => 1, enumerable: false });
  const manyKeys = {};
  for (let i = 0; i < 20_000; i++) manyKeys[`k${i}`] = i;
  const arrayWithProps = Object.assign([1, 2], { extra: () => 1 });
  const throwingToString = {
    toString() {
      throw new Error("toString");
    },
    valueOf() {
      throw new Error("valueOf");
    },
  };
  const throwingPrimitive = {
    [Symbol.toPrimitive]() {
      throw new Error("toPrimitive");
    },
  };
  const thenable = {
    // biome-ignore lint/suspicious/noThenProperty: a thenable is one of the hostile values under test
    then(resolve) {
      resolve({ targetId: "t" });
    },
  };
  // biome-ignore lint/suspicious/noThenProperty: a throwing `then` getter is one of the hostile values under test
  const throwingThen = Object.defineProperty({}, "then", {
    get() {
      throw new Error("then getter");
    },
  });
  const ascii10 = "x".repeat(MB10);
  // 10 MB of multi-byte text makes every NOT_FOUND message cost ~0.8 s (Debug-formatting the id):
  // 1 MB by default, 10 MB with { long: true }.
  const multibyte = "é€😀".repeat(Math.floor((long ? MB10 : MB10 / 10) / 9));
  const lengthLiar = new Proxy([1, 2, 3], { get: (t, k) => (k === "length" ? -1 : Reflect.get(t, k)) });
  const huge = new Proxy([], { get: (t, k) => (k === "length" ? 2 ** 32 + 5 : undefined) });

  return [
    ["undefined", undefined],
    ["null", null],
    ["NaN", Number.NaN],
    ["Infinity", Infinity],
    ["-Infinity", -Infinity],
    ["-0", -0],
    ["0", 0],
    ["1.5", 1.5],
    ["-1", -1],
    ["2^53", 2 ** 53],
    ["MAX_VALUE", Number.MAX_VALUE],
    ["MIN_VALUE", Number.MIN_VALUE],
    ["true", true],
    ["false", false],
    ["empty string", ""],
    ["dot", "."],
    ["dot dot", ".."],
    ["string 'asc'", "asc"],
    ["string 'running'", "running"],
    ["symbol", Symbol("hostile")],
    ["well-known symbol", Symbol.iterator],
    ["BigInt", 10n],
    ["huge BigInt", 2n ** 300n],
    ["arrow function", () => 1],
    ["async function", async () => 1],
    ["generator function", function* () {}],
    ["class (not callable without new)", class K {}],
    // biome-ignore lint/complexity/useArrowFunction: a bound ordinary function (constructible), unlike a bound arrow
    ["bound function", function () {}.bind(null)],
    ["Proxy with throwing traps", new Proxy({}, throwingTraps)],
    ["Proxy of an array with throwing traps", new Proxy([], throwingTraps)],
    ["Proxy of a function with throwing traps", new Proxy(() => 1, throwingTraps)],
    ["Proxy whose traps throw a symbol", new Proxy({}, nonErrorTraps)],
    ["revoked Proxy", revocable.proxy],
    ["Proxy array with a bogus length", lengthLiar],
    ["Proxy array with length 2^32+5 of holes", huge],
    ["object with throwing getters", throwingGetters],
    ["object with getters throwing symbols", symbolGetters],
    ["object with re-entrant getters", reentrant],
    ["object with toJSON", { toJSON: () => ({ targetId: "t" }) }],
    ["object with throwing toString/valueOf", throwingToString],
    ["object with throwing Symbol.toPrimitive", throwingPrimitive],
    ["thenable", thenable],
    ["object with a throwing then getter", throwingThen],
    ["10 MB ASCII string", ascii10],
    [`${long ? 10 : 1} MB multi-byte string (UTF-8)`, multibyte],
    ["lone high surrogate", "\uD800"],
    ["lone low surrogate inside text", "a\uDC00b"],
    ["reversed surrogate pair", "\uDC00\uD800"],
    ["1000 lone surrogates", "\uDBFF".repeat(1000)],
    ["10,000-deep arrays", deepArrays],
    ["10,000-deep objects", deepObjects],
    ["object cycle", cycle],
    ["array cycle", arrayCycle],
    // biome-ignore lint/suspicious/noSparseArray: the hole is the hostile value under test
    ["sparse array", [1, , 3]],
    ["array of holes", new Array(5)],
    ["sparse array of length 2^32-1", hugeSparse],
    ["frozen object", Object.freeze({ a: 1, b: Object.freeze([1, 2]) })],
    ["frozen array", Object.freeze(["pending", "running"])],
    ["sealed empty object", Object.seal({})],
    ["class instance", new Point()],
    ["Array subclass instance", MyArray.from([1, 2])],
    ["Date", new Date(0)],
    ["invalid Date", new Date(Number.NaN)],
    ["Map", new Map([["targetId", "t"]])],
    ["Set", new Set([1])],
    ["WeakMap", new WeakMap()],
    ["Uint8Array", new Uint8Array([1, 2, 3])],
    ["ArrayBuffer", new ArrayBuffer(8)],
    ["RegExp", /re/g],
    ["Error", new Error("an error")],
    ["Promise", Promise.resolve(1)],
    ["String object", new String("s")],
    ["Number object", new Number(1)],
    ["Boolean object", new Boolean(false)],
    ["AbortSignal", AbortSignal.abort()],
    ["globalThis", globalThis],
    ["null-prototype object", nullProto],
    ["own __proto__ key", JSON.parse('{"__proto__":{"polluted":true},"targetId":"t"}')],
    ["symbol-keyed object", withSymbolKey],
    ["non-enumerable function property", nonEnumerable],
    ["20,000 keys", manyKeys],
    ["array with extra properties", arrayWithProps],
    ["array-like object", { length: 2, 0: "pending", 1: "running" }],
  ].map(([name, value]) => ({ name, value }));
}

function describeError(e) {
  try {
    if (e instanceof Error)
      return `${e.constructor?.name}(${e.name}${e.code !== undefined ? ` ${e.code}` : ""}): ${String(e.message).slice(0, 160)}`;
    return `non-Error ${typeof e}: ${String(e).slice(0, 100)}`;
  } catch {
    return `unprintable ${typeof e}`;
  }
}

const isTrap = (e) =>
  e instanceof WebAssembly.RuntimeError ||
  (e instanceof Error && /unreachable|null pointer passed to rust|recursive use of an object/.test(String(e.message)));

const TERMINAL = ["completed", "failed", "cancelled"];
const quiesce = () => new Promise((resolve) => setTimeout(resolve, 0));

/**
 * Runs the whole corpus against a fresh manager. Returns
 * `{ calls, succeeded, errors: { CODE: n }, failures: string[], corpus: n, positions: n, ms }`.
 */
export async function runNeverTrap(ExecutionManager, { log = () => {}, maxFailures = 60, long = false } = {}) {
  const started = Date.now();
  const report = { calls: 0, succeeded: 0, errors: {}, failures: [], corpus: 0, positions: 0, ms: 0, traps: 0 };
  const failure = (msg) => {
    if (report.failures.length < maxFailures) report.failures.push(msg);
  };

  // ---- fixtures: one execution in every state, held while the corpus runs --------------------
  const m = new ExecutionManager({ concurrency: 1, maxFinished: 100_000 });
  const gates = [];
  const ctxs = new Map();
  m.register(
    "t",
    (inputs, ctx) => {
      ctxs.set(ctx.id, ctx);
      return new Promise((resolve) => gates.push(resolve)); // hangs until the end
    },
    { type: "hostile" },
  );
  m.register("echo", (inputs) => inputs);
  const fx = {};
  fx.running = m.create({ targetId: "t", id: "fx-running-handler", inputs: { n: 1 }, config: { label: "x" } }).id;
  fx.queued = m.create({ targetId: "t", id: "fx-pending-handler" }).id; // waits: concurrency 1
  fx.pending = m.track({ targetId: "ext", id: "fx-pending", inputs: [1, 2] }).id;
  fx.tracked = m.track({ targetId: "ext", id: "fx-running", config: { timeoutMs: 1e9 } }).id;
  m.start(fx.tracked);
  m.reportProgress(fx.tracked, 3, 10, "three");
  for (const [key, end] of [
    ["completed", (id) => m.complete(id, { ok: true })],
    ["failed", (id) => m.fail(id, "boom")],
    ["cancelled", (id) => m.cancel(id, "why")],
  ]) {
    fx[key] = m.track({ targetId: "ext", id: `fx-${key}` }).id;
    if (key !== "cancelled") m.start(fx[key]);
    end(fx[key]);
  }
  await quiesce();
  const progressCtx = ctxs.get(fx.running);
  if (!progressCtx) failure("fixture: the running handler never started");
  const listenerEvents = [];
  const offFixture = m.subscribe((ev) => listenerEvents.push(ev.type));

  const fingerprint = () => JSON.stringify([m.counts(), m.list({ pageSize: 1000, order: "asc" })]);
  const initial = {};
  for (const id of Object.values(fx)) initial[id] = JSON.stringify(m.status(id));
  delete initial[fx.running]; // its progress is the target of the ctx.progress probes
  const baselineCounts = JSON.stringify(m.counts());

  // ---- helpers --------------------------------------------------------------------------------
  let victimSeq = 0;
  const victim = () => {
    const id = `victim-${++victimSeq}`;
    m.track({ targetId: "victim", id });
    m.start(id);
    return id;
  };
  const dispose = (id) => {
    if (typeof id !== "string") return;
    try {
      const s = m.status(id);
      if (!s) return;
      if (!TERMINAL.includes(s.status)) m.cancel(id);
      m.remove(id);
    } catch (e) {
      failure(`cleanup of ${id.slice(0, 40)} threw ${describeError(e)}`);
    }
  };
  const idExpect = (v) => (typeof v === "string" && !v.isWellFormed() ? ["INVALID_ARGUMENT"] : ["NOT_FOUND"]);

  /**
   * Calls `fn`; `ok` says whether success is allowed, `codes` which ExecutionError codes are.
   * A throw must leave the manager's fingerprint unchanged.
   */
  const attempt = (where, fn, { ok, codes = [] }) => {
    report.calls++;
    const before = fingerprint();
    let value;
    try {
      value = fn();
    } catch (e) {
      if (isTrap(e)) report.traps++;
      if (!(e instanceof Error) || e.name !== "ExecutionError" || !codes.includes(e.code)) {
        failure(
          `${where}: threw ${describeError(e)}; expected ${ok ? "success or " : ""}ExecutionError ${codes.join("|") || "(none)"}`,
        );
      } else {
        report.errors[e.code] = (report.errors[e.code] ?? 0) + 1;
      }
      let after;
      try {
        after = fingerprint();
      } catch (e2) {
        failure(`${where}: the manager is unusable after the error: ${describeError(e2)}`);
        return { threw: true, dead: true };
      }
      if (after !== before) failure(`${where}: threw ${e?.code ?? describeError(e)} but changed the manager`);
      return { threw: true, error: e };
    }
    if (!ok) failure(`${where}: returned ${typeof value} but ExecutionError ${codes.join("|")} was expected`);
    else report.succeeded++;
    return { threw: false, value };
  };

  const registered = new Set(["t", "echo"]);
  const corpus = hostileCorpus({
    long,
    reenter: () => {
      m.counts();
      m.list({ pageSize: 1 });
      m.status(fx.tracked);
    },
  });
  report.corpus = corpus.length;

  const isNullish = (v) => v === undefined || v === null;
  const dotted = (v) => v === "." || v === "..";
  // Failure details longer than this are refused by fail() (thrown ones are cut instead).
  const detailOk = (v) => typeof v !== "string" || v.length <= 65_536;
  const limitOk = (v) => v === undefined || v === Infinity || (Number.isInteger(v) && v >= 1);
  const positiveFinite = (v) => typeof v === "number" && Number.isFinite(v) && v > 0;
  // A retry policy or backoff object: absent is fine, a plain object may be (its fields decide),
  // anything else (null included) is refused.
  const policyObj = (v) =>
    v === undefined
      ? { ok: true }
      : objectKind(v) === "plain"
        ? { ok: true, codes: ["INVALID_ARGUMENT"] }
        : { ok: false, codes: ["INVALID_ARGUMENT"] };
  const SCHEDULING = ["priority", "delayMs", "runAt", "retry"];
  let scheduled = 0;
  const optionsObj = (v, kind) =>
    isNullish(v)
      ? { ok: true }
      : kind === "plain"
        ? { ok: true, codes: ["INVALID_ARGUMENT"] }
        : { ok: false, codes: ["INVALID_ARGUMENT"] };
  // The options of wait() and watch(): none, or a plain object whose `signal` is absent or an
  // AbortSignal.
  const signalOptionsOk = (v) => {
    if (isNullish(v)) return true;
    if (objectKind(v) !== "plain") return false;
    try {
      return v.signal === undefined || isSignal(v.signal);
    } catch {
      return false;
    }
  };
  const number0 = (v) => typeof v === "number" && Number.isFinite(v) && v >= 0;
  const subscribeField = {
    id: (v) => v === undefined || wellFormed(v),
    targetId: (v) => v === undefined || wellFormed(v),
    type: (v) => v === undefined || wellFormed(v) || (objectKind(v) === "array" && safeEvery(v, wellFormed)),
    throttleMs: (v) => v === undefined || number0(v),
  };
  const statusOk = (v) => ["pending", "running", "completed", "failed", "cancelled"].includes(v);
  const listField = {
    status: (v) => v === undefined || statusOk(v) || (objectKind(v) === "array" && safeEvery(v, statusOk)),
    type: (v) => v === undefined || wellFormed(v) || (objectKind(v) === "array" && safeEvery(v, wellFormed)),
    targetId: (v) => v === undefined || wellFormed(v),
    page: (v) => v === undefined || (Number.isInteger(v) && v >= 1 && v <= Number.MAX_SAFE_INTEGER),
    pageSize: (v) => v === undefined || (Number.isInteger(v) && v >= 1 && v <= 1000),
    order: (v) => v === undefined || v === "asc" || v === "desc",
    cursor: (v) => v === undefined,
  };
  const failArgOk = (v) => {
    if (typeof v === "string") return v.isWellFormed() && detailOk(v);
    if (isError(v)) return true; // (an Error's own fields are checked loosely)
    if (objectKind(v) !== "plain") return false;
    try {
      return wellFormed(v.message) && ["code", "name", "stack"].every((k) => v[k] === undefined || wellFormed(v[k]));
    } catch {
      return false;
    }
  };

  // Every probe: a position and the expectation for a value there.
  const probes = [
    ["new ExecutionManager(v)", (v) => [() => new ExecutionManager(v), optionsObj(v, objectKind(v))]],
    [
      "new ExecutionManager({ concurrency: v })",
      (v) => [
        () => new ExecutionManager({ concurrency: v }),
        limitOk(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    [
      "new ExecutionManager({ maxFinished: v })",
      (v) => [
        () => new ExecutionManager({ maxFinished: v }),
        limitOk(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    [
      "new ExecutionManager({ maxBytes: v })",
      (v) => [
        () => new ExecutionManager({ maxBytes: v }),
        limitOk(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    [
      "register(v, fn)",
      (v) => [
        () => {
          m.register(v, () => 1);
          return registered.add(v);
        },
        nonEmpty(v) ? { ok: true, codes: ["ALREADY_EXISTS"] } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    [
      "register(t, v)",
      (v, i) => [
        () => m.register(`reg-h-${i}`, v),
        typeof v === "function" ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    ["register(t, fn, v)", (v, i) => [() => m.register(`reg-o-${i}`, () => 1, v), optionsObj(v, objectKind(v))]],
    [
      "register(t, fn, { type: v })",
      (v, i) => [
        () => m.register(`reg-t-${i}`, () => 1, { type: v }),
        v === undefined || nonEmpty(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    [
      "create(v)",
      (v) => [
        () => m.create(v),
        objectKind(v) === "plain"
          ? { ok: true, codes: ["INVALID_ARGUMENT", "UNKNOWN_TARGET"] }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ targetId: v })",
      (v) => [
        () => m.create({ targetId: v }),
        registered.has(v)
          ? { ok: true }
          : nonEmpty(v)
            ? { ok: false, codes: ["UNKNOWN_TARGET"] }
            : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ id: v })",
      (v) => [
        () => m.create({ targetId: "t", id: v }),
        v === undefined || (nonEmpty(v) && !dotted(v))
          ? { ok: true, codes: ["ALREADY_EXISTS"] }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ type: v })",
      (v) => [
        () => m.create({ targetId: "t", type: v }),
        v === undefined || nonEmpty(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ inputs: v })",
      (v) => [
        () => m.create({ targetId: "t", inputs: v }),
        v === undefined || jsonCompatible(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ config: v })",
      (v) => [
        () => m.create({ targetId: "t", config: v }),
        v === undefined || (objectKind(v) === "plain" && jsonCompatible(v) && timeoutOk(v))
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ config: { timeoutMs: v } })",
      (v) => [
        () => m.create({ targetId: "t", config: { timeoutMs: v } }),
        v === null || positiveFinite(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ config: { other: v } })",
      (v) => [
        () => m.create({ targetId: "t", config: { other: v } }),
        jsonCompatible({ other: v }) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    // scheduling fields (priority, delayMs/runAt, retry): taken, or refused with INVALID_ARGUMENT
    [
      "create({ priority: v })",
      (v) => [
        () => m.create({ targetId: "t", priority: v }),
        v === undefined || Number.isSafeInteger(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ delayMs: v })",
      (v) => [
        () => m.create({ targetId: "t", delayMs: v }),
        v === undefined || (typeof v === "number" && Number.isFinite(v) && v >= 0)
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ runAt: v })",
      (v) => [
        () => m.create({ targetId: "t", runAt: v }),
        v === undefined || (typeof v === "number" && Number.isFinite(v))
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    ["create({ retry: v })", (v) => [() => m.create({ targetId: "t", retry: v }), policyObj(v)], "created"],
    [
      "create({ retry: { attempts: v } })",
      (v) => [
        () => m.create({ targetId: "t", retry: { attempts: v } }),
        Number.isInteger(v) && v >= 1 && v <= 1000 ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ retry: { attempts: 2, backoff: v } })",
      (v) => [() => m.create({ targetId: "t", retry: { attempts: 2, backoff: v } }), policyObj(v)],
      "created",
    ],
    [
      "create({ retry: { attempts: 2, backoff: { delayMs: v, jitter: v } } })",
      (v) => [
        () => m.create({ targetId: "t", retry: { attempts: 2, backoff: { delayMs: v, jitter: v } } }),
        v === undefined || (typeof v === "number" && v >= 0 && v <= 1)
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    ["register(t, fn, { retry: v })", (v, i) => [() => m.register(`reg-r-${i}`, () => 1, { retry: v }), policyObj(v)]],
    [
      "track({ priority/delayMs/runAt/retry: v })",
      (v) => [
        () => m.track({ targetId: "x", [SCHEDULING[scheduled++ % SCHEDULING.length]]: v }),
        v === undefined ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "create({ signal: v })",
      (v) => [
        () => m.create({ targetId: "t", signal: v }),
        v === undefined || isSignal(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "track({ signal: v })",
      (v) => [
        () => m.track({ targetId: "x", signal: v }),
        v === undefined || isSignal(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "track(v)",
      (v) => [
        () => m.track(v),
        objectKind(v) === "plain"
          ? { ok: true, codes: ["INVALID_ARGUMENT"] }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "track({ targetId: v })",
      (v) => [() => m.track({ targetId: v }), nonEmpty(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] }],
      "created",
    ],
    [
      "track({ id: v })",
      (v) => [
        () => m.track({ targetId: "x", id: v }),
        v === undefined || (nonEmpty(v) && !dotted(v))
          ? { ok: true, codes: ["ALREADY_EXISTS"] }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    [
      "track({ inputs: v })",
      (v) => [
        () => m.track({ targetId: "x", inputs: v }),
        v === undefined || jsonCompatible(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "created",
    ],
    ["start(v)", (v) => [() => m.start(v), { ok: false, codes: idExpect(v) }]],
    ["reportProgress(v, 1)", (v) => [() => m.reportProgress(v, 1), { ok: false, codes: idExpect(v) }]],
    [
      "reportProgress(id, v)",
      (v, i, id) => [
        () => m.reportProgress(id, v),
        typeof v === "number" && Number.isFinite(v) && v >= 0
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    [
      "reportProgress(id, 1, v)",
      (v, i, id) => [
        () => m.reportProgress(id, 1, v),
        isNullish(v) || positiveFinite(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    [
      "reportProgress(id, 1, 2, v)",
      (v, i, id) => [
        () => m.reportProgress(id, 1, 2, v),
        isNullish(v) || wellFormed(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    ["complete(v)", (v) => [() => m.complete(v), { ok: false, codes: idExpect(v) }]],
    [
      "complete(id, v)",
      (v, i, id) => [
        () => m.complete(id, v),
        v === undefined || jsonCompatible(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    ["fail(v, 'x')", (v) => [() => m.fail(v, "x"), { ok: false, codes: idExpect(v) }]],
    [
      "fail(id, v)",
      (v, i, id) => [
        () => m.fail(id, v),
        failArgOk(v) ? { ok: true } : { ok: isError(v), codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    [
      "fail(id, { message: v })",
      (v, i, id) => [
        () => m.fail(id, { message: v }),
        wellFormed(v) && detailOk(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    [
      "fail(id, { message, code: v })",
      (v, i, id) => [
        () => m.fail(id, { message: "m", code: v }),
        v === undefined || (wellFormed(v) && detailOk(v)) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    ["cancel(v)", (v) => [() => m.cancel(v), { ok: false, codes: idExpect(v) }]],
    [
      "cancel(id, v)",
      (v, i, id) => [
        () => m.cancel(id, v),
        isNullish(v) || wellFormed(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "victim",
    ],
    ["remove(v)", (v) => [() => m.remove(v), { ok: false, codes: idExpect(v) }]],
    [
      "status(v)",
      (v) => [
        () => m.status(v),
        typeof v === "string" && !v.isWellFormed()
          ? { ok: false, codes: ["INVALID_ARGUMENT"] }
          : { ok: true, undefinedResult: true },
      ],
    ],
    [
      "progress(v)",
      (v) => [
        () => m.progress(v),
        typeof v === "string" && !v.isWellFormed()
          ? { ok: false, codes: ["INVALID_ARGUMENT"] }
          : { ok: true, undefinedResult: true },
      ],
    ],
    [
      "list(v)",
      (v) => [
        () => m.list(v),
        isNullish(v)
          ? { ok: true }
          : objectKind(v) === "plain"
            ? { ok: true, codes: ["INVALID_ARGUMENT"] }
            : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
    ],
    ...Object.entries(listField).map(([field, okFn]) => [
      `list({ ${field}: v })`,
      (v) => [() => m.list({ [field]: v }), okFn(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] }],
    ]),
    ["counts(v)", (v) => [() => m.counts(v), { ok: true }]],
    [
      "subscribe(v)",
      (v) => [
        () => m.subscribe(v),
        typeof v === "function" ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "subscribed",
    ],
    ["unsubscribe(v)", (v) => [() => m.subscribe(() => {})(v), { ok: true }]],
    [
      "subscribe(fn, v)",
      (v) => [
        () => m.subscribe(() => {}, v),
        isNullish(v)
          ? { ok: true }
          : objectKind(v) === "plain"
            ? { ok: true, codes: ["INVALID_ARGUMENT"] }
            : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "subscribed",
    ],
    ...Object.entries(subscribeField).map(([field, okFn]) => [
      `subscribe(fn, { ${field}: v })`,
      (v) => [
        () => m.subscribe(() => {}, { [field]: v }),
        okFn(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "subscribed",
    ]),
    [
      "watch(id, v)",
      (v) => [
        () => m.watch(fx.tracked, v),
        signalOptionsOk(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "watched",
    ],
    [
      "watch(id, { signal: v })",
      (v) => [
        () => m.watch(fx.tracked, { signal: v }),
        v === undefined || isSignal(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "watched",
    ],
    [
      "ctx.progress(v)",
      (v) => [
        () => progressCtx.progress(v),
        typeof v === "number" && Number.isFinite(v) && v >= 0
          ? { ok: true }
          : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "ctx",
    ],
    [
      "ctx.progress(1, v)",
      (v) => [
        () => progressCtx.progress(1, v),
        isNullish(v) || positiveFinite(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "ctx",
    ],
    [
      "ctx.progress(1, 2, v)",
      (v) => [
        () => progressCtx.progress(1, 2, v),
        isNullish(v) || wellFormed(v) ? { ok: true } : { ok: false, codes: ["INVALID_ARGUMENT"] },
      ],
      "ctx",
    ],
  ];
  report.positions = probes.length;

  for (const { name, value } of corpus) {
    log(`corpus: ${name}`);
    for (let p = 0; p < probes.length; p++) {
      const [label, build, mode] = probes[p];
      const where = `${label} with ${name}`;
      let victimId;
      if (mode === "victim") victimId = victim();
      const [fn, expect] = build(value, `${p}-${report.calls}`, victimId);
      const r = attempt(where, fn, expect);
      if (r.dead) return finish();
      if (!r.threw) {
        if (expect.undefinedResult && r.value !== undefined)
          failure(`${where}: returned ${typeof r.value}, expected undefined`);
        if (mode === "created") dispose(r.value?.id);
        if (mode === "subscribed" && typeof r.value === "function") {
          try {
            r.value(value);
          } catch (e) {
            failure(`${where}: its unsubscribe function threw ${describeError(e)}`);
          }
        } else if (mode === "subscribed") failure(`${where}: subscribe did not return a function`);
        if (mode === "watched") {
          if (typeof r.value?.return !== "function" || typeof r.value?.[Symbol.asyncIterator] !== "function")
            failure(`${where}: watch did not return an async iterator`);
          else {
            // The first next() yields the fixture's snapshot, or rejects with an aborted signal's reason.
            const sig = label.includes("signal:") ? value : safeSignal(value);
            const aborted = isSignal(sig) && sig.aborted;
            try {
              const first = await r.value.next();
              if (aborted) failure(`${where}: the first next() resolved; expected the signal's reason`);
              else if (first.value?.id !== fx.tracked) failure(`${where}: the first next() gave ${first.value?.id}`);
            } catch (e) {
              if (!aborted || e !== sig.reason) failure(`${where}: the first next() rejected with ${describeError(e)}`);
            }
            await r.value.return();
          }
        }
      }
      if (victimId) dispose(victimId);
      if (mode === "ctx" && !r.threw) progressCtx.progress(0); // keep the fingerprint small
    }
    // wait(v): a promise, never a synchronous throw; rejects for anything but a held id.
    report.calls++;
    try {
      const p = m.wait(value);
      if (!(p instanceof Promise)) failure(`wait(${name}) did not return a Promise`);
      else {
        const outcome = await Promise.race([
          p.then(
            () => "resolved",
            (e) => e,
          ),
          new Promise((r) => setTimeout(() => r("hung"), 1000)),
        ]);
        if (outcome === "resolved" || outcome === "hung")
          failure(`wait(${name}) ${outcome}; expected a NOT_FOUND/INVALID_ARGUMENT rejection`);
        else if (
          !(outcome instanceof Error) ||
          outcome.name !== "ExecutionError" ||
          !idExpect(value).includes(outcome.code)
        )
          failure(`wait(${name}) rejected with ${describeError(outcome)}`);
        else report.errors[outcome.code] = (report.errors[outcome.code] ?? 0) + 1;
      }
    } catch (e) {
      failure(`wait(${name}) threw synchronously: ${describeError(e)}`);
    }
    // wait(id, v) and wait(id, { signal: v }) on a completed execution: resolve with it, reject
    // INVALID_ARGUMENT for malformed options, or with the reason of an aborted signal.
    for (const [label, options] of [
      ["wait(id, v)", value],
      ["wait(id, { signal: v })", { signal: value }],
    ]) {
      report.calls++;
      const where = `${label} with ${name}`;
      const valid = label === "wait(id, v)" ? signalOptionsOk(value) : value === undefined || isSignal(value);
      try {
        const outcome = await Promise.race([
          m.wait(fx.completed, options).then(
            (x) => ({ x }),
            (e) => ({ e }),
          ),
          new Promise((r) => setTimeout(() => r("hung"), 1000)),
        ]);
        const signal = label === "wait(id, v)" ? safeSignal(value) : value;
        const aborted = isSignal(signal) && signal.aborted;
        if (outcome === "hung") failure(`${where} hung`);
        else if (!valid) {
          if (outcome.e?.name !== "ExecutionError" || outcome.e.code !== "INVALID_ARGUMENT")
            failure(`${where}: ${outcome.x ? "resolved" : describeError(outcome.e)}; expected INVALID_ARGUMENT`);
          else report.errors.INVALID_ARGUMENT = (report.errors.INVALID_ARGUMENT ?? 0) + 1;
        } else if (aborted) {
          if (!("e" in outcome) || outcome.e !== signal.reason)
            failure(`${where}: expected the rejection with the aborted signal's reason`);
        } else if (outcome.x?.id !== fx.completed)
          failure(`${where}: ${describeError(outcome.e)}; expected to resolve`);
        else report.succeeded++;
      } catch (e) {
        failure(`${where} threw synchronously: ${describeError(e)}`);
      }
    }
    // watch(v): the first next() rejects NOT_FOUND (or INVALID_ARGUMENT for a malformed string).
    report.calls++;
    try {
      const it = m.watch(value);
      const outcome = await Promise.race([
        it.next().then(
          () => "resolved",
          (e) => e,
        ),
        new Promise((r) => setTimeout(() => r("hung"), 1000)),
      ]);
      if (outcome === "resolved" || outcome === "hung") failure(`watch(${name}).next() ${outcome}`);
      else if (outcome?.name !== "ExecutionError" || !idExpect(value).includes(outcome.code))
        failure(`watch(${name}).next() rejected with ${describeError(outcome)}`);
      else report.errors[outcome.code] = (report.errors[outcome.code] ?? 0) + 1;
    } catch (e) {
      failure(`watch(${name}) threw synchronously: ${describeError(e)}`);
    }
    await restAndCheck(name);
  }

  // ---- handle() and fetch() ---------------------------------------------------------------------
  const base = "http://execman.test";
  const restCodes = {
    400: ["INVALID_ARGUMENT"],
    404: ["NOT_FOUND", "UNKNOWN_TARGET"],
    405: ["METHOD_NOT_ALLOWED"],
    409: ["ALREADY_EXISTS", "INVALID_TRANSITION"],
  };
  const checkRest = (where, status, body, allowed) => {
    if (!allowed.includes(status)) failure(`${where}: status ${status}, expected one of ${allowed}`);
    if (status >= 400) {
      const code = body?.error?.code;
      if (!restCodes[status]?.includes(code) || typeof body?.error?.message !== "string")
        failure(`${where}: error body ${JSON.stringify(body)?.slice(0, 200)}`);
    }
    if (status === 201) dispose(body?.id);
  };
  const handleProbes = [
    ["handle(v)", (v) => v, (v) => [400]],
    [
      "handle({ method: v })",
      (v) => ({ method: v, path: "/api/v1/executions" }),
      (v) => (wellFormed(v) ? [200, 405] : [400]),
    ],
    ["handle({ path: v })", (v) => ({ method: "GET", path: v }), (v) => (wellFormed(v) ? [200, 400, 404] : [400])],
    [
      "handle({ path: '/…/' + v })",
      (v) => ({ method: "GET", path: `/api/v1/executions/${typeof v === "symbol" ? "s" : safeString(v)}` }),
      () => [200, 400, 404],
    ],
    [
      "handle({ query: v })",
      (v) => ({ method: "GET", path: "/api/v1/executions", query: v }),
      (v) => (isNullish(v) || wellFormed(v) ? [200, 400] : objectKind(v) === "plain" ? [200, 400] : [400]),
    ],
    [
      "handle({ query: { status: v } })",
      (v) => ({ method: "GET", path: "/api/v1/executions", query: { status: v } }),
      (v) => (v === undefined || wellFormed(v) ? [200, 400] : [400]),
    ],
    [
      "handle({ body: v }) create",
      (v) => ({ method: "POST", path: "/api/v1/executions", body: v }),
      (v) => (objectKind(v) === "plain" ? [201, 400, 404] : [400]),
    ],
    [
      "handle({ body: { targetId: t, inputs: v } })",
      (v) => ({ method: "POST", path: "/api/v1/executions", body: { targetId: "echo", inputs: v } }),
      (v) => (v === undefined || jsonCompatible(v) ? [201] : [400]),
    ],
    [
      "handle({ body: v }) cancel",
      (v) => ({ method: "POST", path: "/api/v1/executions/none/cancel", body: v }),
      (v) => [400, 404],
    ],
  ];
  for (const { name, value } of corpus) {
    for (const [label, build, allowedFn] of handleProbes) {
      const where = `${label} with ${name}`;
      report.calls++;
      const before = fingerprint();
      let res;
      try {
        res = m.handle(build(value));
      } catch (e) {
        if (isTrap(e)) report.traps++;
        failure(`${where}: threw ${describeError(e)} (handle never throws)`);
        continue;
      }
      if (!res || typeof res.status !== "number") {
        failure(`${where}: answered ${JSON.stringify(res)?.slice(0, 100)}`);
        continue;
      }
      if (res.status >= 400 && fingerprint() !== before)
        failure(`${where}: answered ${res.status} but changed the manager`);
      checkRest(where, res.status, res.body, allowedFn(value));
    }
    const fetchProbes = [
      ["fetch(v)", () => value, [400]],
      [
        "fetch({ method: v, url })",
        () => ({ method: value, url: `${base}/api/v1/executions` }),
        wellFormed(value) ? [200, 400, 405] : [400],
      ],
      [
        "fetch({ method: 'GET', url: v })",
        () => ({ method: "GET", url: value }),
        wellFormed(value) ? [200, 400, 404] : [400],
      ],
      [
        "fetch({ method: 'POST', url, text: v })",
        () => ({ method: "POST", url: `${base}/api/v1/executions`, text: value }),
        [400],
      ],
      [
        "fetch({ method: 'POST', url, text: () => v })",
        () => ({ method: "POST", url: `${base}/api/v1/executions`, text: () => value }),
        [400],
      ],
    ];
    for (const [label, build, allowed] of fetchProbes) {
      const where = `${label} with ${name}`;
      report.calls++;
      try {
        const p = m.fetch(build());
        if (!(p instanceof Promise)) {
          failure(`${where}: did not return a Promise`);
          continue;
        }
        const res = await p;
        if (!(res instanceof Response)) {
          failure(`${where}: resolved with ${typeof res}`);
          continue;
        }
        const text = await res.text();
        checkRest(where, res.status, text ? JSON.parse(text) : null, allowed);
      } catch (e) {
        if (isTrap(e)) report.traps++;
        failure(`${where}: ${describeError(e)} (fetch resolves a Response for any request)`);
      }
    }
    await restAndCheck(`${name} (REST)`);
  }
  // Hostile request bodies as real fetch Requests.
  const deepText = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
  const bodies = [
    ["10,000-deep array body", deepText, [400]],
    ["10,000-deep inputs", `{"targetId":"echo","inputs":${deepText}}`, [400]],
    ["129-level inputs", `{"targetId":"echo","inputs":${"[".repeat(129)}${"]".repeat(129)}}`, [400]],
    ["128-level inputs", `{"targetId":"echo","inputs":${"[".repeat(128)}${"]".repeat(128)}}`, [201]],
    ["10 MB string inputs", `{"targetId":"echo","inputs":"${"y".repeat(MB10)}"}`, [201]],
    ["10 MB of whitespace", " ".repeat(MB10), [400]],
    ["escaped lone surrogate", '{"targetId":"echo","inputs":"\\ud800"}', [400]],
    ["raw lone surrogate (becomes U+FFFD on the wire)", '{"targetId":"echo","inputs":"\ud800"}', [201, 400]],
    ["__proto__ key", '{"__proto__":{"targetId":"echo"}}', [400]],
    ["not JSON", "{targetId: echo}", [400]],
    ["trailing garbage", '{"targetId":"echo"} x', [400]],
    ["null", "null", [400]],
    ["a number", "1e400", [400]],
    ["escaped NUL in a string", '{"targetId":"echo\\u0000"}', [404]],
    ["raw control character in a string", '{"targetId":"echo\u0001"}', [400]],
    ["duplicate keys", '{"targetId":"nope","targetId":"echo"}', [201, 400]],
  ];
  for (const [name, text, allowed] of bodies) {
    const where = `fetch(POST body: ${name})`;
    report.calls++;
    try {
      const res = await m.fetch(
        new Request(`${base}/api/v1/executions`, {
          method: "POST",
          body: text,
          headers: { "content-type": "application/json" },
        }),
      );
      const out = await res.text();
      checkRest(where, res.status, out ? JSON.parse(out) : null, allowed);
    } catch (e) {
      if (isTrap(e)) report.traps++;
      failure(`${where}: ${describeError(e)}`);
    }
    await restAndCheck(name);
  }

  // ---- handler results and thrown values ---------------------------------------------------------
  const h = new ExecutionManager();
  let current;
  h.register("returns", () => current);
  h.register("resolves", async () => current);
  h.register("throws", () => {
    throw current;
  });
  h.register("rejects", () => Promise.reject(current));
  for (const { name, value } of corpus) {
    current = value;
    for (const target of ["returns", "resolves", "throws", "rejects"]) {
      const where = `a handler that ${target} ${name}`;
      report.calls++;
      try {
        const { id } = h.create({ targetId: target });
        const done = await Promise.race([h.wait(id), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
        if (done === "hung") {
          failure(`${where}: never finished`);
          continue;
        }
        const thenable =
          value !== null && (typeof value === "object" || typeof value === "function") && safeHas(value, "then");
        if (target === "returns" || target === "resolves") {
          if (value === undefined) {
            if (done.status !== "completed" || done.result !== null)
              failure(`${where}: ${done.status}, expected completed with null`);
          } else if (jsonCompatible(value) && !thenable) {
            if (done.status !== "completed")
              failure(`${where}: ${done.status} (${JSON.stringify(done.error)?.slice(0, 160)}), expected completed`);
          } else if (
            !thenable &&
            (done.status !== "failed" || !["INVALID_RESULT", "HANDLER_ERROR"].includes(done.error?.code))
          ) {
            failure(`${where}: ${done.status} ${done.error?.code}, expected failed INVALID_RESULT`);
          }
        } else if (
          done.status !== "failed" ||
          done.error?.code !== "HANDLER_ERROR" ||
          typeof done.error.message !== "string" ||
          typeof done.error.name !== "string"
        ) {
          failure(
            `${where}: ${done.status} ${JSON.stringify(done.error)?.slice(0, 160)}, expected failed HANDLER_ERROR`,
          );
        }
        h.remove(id);
      } catch (e) {
        if (isTrap(e)) report.traps++;
        failure(`${where}: ${describeError(e)}`);
      }
    }
  }

  // ---- the end: fixtures unchanged, counts back to baseline, a fresh create + wait completes ------
  offFixture();
  return finish();

  async function restAndCheck(name) {
    await quiesce();
    for (const [id, snap] of Object.entries(initial)) {
      const now = JSON.stringify(m.status(id));
      if (now !== snap) {
        failure(`after ${name}: fixture ${id} changed: ${now?.slice(0, 200)}`);
        initial[id] = now;
      }
    }
    const counts = JSON.stringify(m.counts());
    if (counts !== baselineCounts) failure(`after ${name}: counts ${counts}, expected ${baselineCounts}`);
  }

  async function finish() {
    try {
      await restAndCheck("the whole corpus");
      // Free the only slot: the hanging fixture handler, then the queued one, settle.
      for (let round = 0; round < 3; round++) {
        for (const resolve of gates.splice(0)) resolve("released");
        await quiesce();
      }
      const fresh = m.create({ targetId: "echo", inputs: { fresh: true } });
      const done = await Promise.race([m.wait(fresh.id), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
      if (done === "hung") failure("a fresh create + wait never finished");
      else if (done.status !== "completed" || done.result?.fresh !== true)
        failure(`a fresh create + wait: ${JSON.stringify(done).slice(0, 200)}`);
    } catch (e) {
      failure(`a fresh create + wait: ${describeError(e)}`);
    }
    // Leave nothing behind: no timer (fx-running has timeoutMs), no hanging handler.
    try {
      for (const e of m.list({ status: ["pending", "running"], pageSize: 1000 }).items) m.cancel(e.id);
      for (const resolve of gates.splice(0)) resolve("released");
      await quiesce();
    } catch (e) {
      failure(`cleanup: ${describeError(e)}`);
    }
    report.ms = Date.now() - started;
    report.events = listenerEvents.length;
    return report;
  }

  function timeoutOk(cfg) {
    try {
      const t = cfg.timeoutMs;
      return t === undefined || t === null || positiveFinite(t);
    } catch {
      return false;
    }
  }
}

/** Whether `v` is an AbortSignal by the host's own brand check (as the manager decides). */
function isSignal(v) {
  try {
    const get = Object.getOwnPropertyDescriptor(AbortSignal.prototype, "aborted").get;
    return typeof Reflect.apply(get, v, []) === "boolean";
  } catch {
    return false;
  }
}

/** `v.signal`, or undefined when reading it throws. */
function safeSignal(v) {
  try {
    return v?.signal;
  } catch {
    return undefined;
  }
}

function isError(v) {
  try {
    return v instanceof Error;
  } catch {
    return false;
  }
}

function safeEvery(arr, pred) {
  try {
    for (let i = 0; i < arr.length; i++) if (!pred(arr[i])) return false;
    return true;
  } catch {
    return false;
  }
}

function safeHas(v, key) {
  try {
    return typeof v[key] === "function";
  } catch {
    return true; // a throwing `then` getter: whatever happens must not trap
  }
}

function safeString(v) {
  try {
    return String(v).slice(0, 1000);
  } catch {
    return "unprintable";
  }
}

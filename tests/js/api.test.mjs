// Behavioural tests of the JS contract (all but REST) against the
// built package, imported the way users import it.
import { describe } from "node:test";
import assert from "node:assert/strict";
import { ExecutionManager } from "execman";
import {
  COUNT_KEYS,
  STATUSES,
  UUID_V4,
  checkError,
  checkExecutionShape,
  deferred,
  expectError,
  flush,
  gateTarget,
  healthy,
  nestArrays,
  nestObjects,
  rejectsExec,
  sleep,
  test,
  throwsExec,
  until,
} from "./helpers.mjs";

const NOOP = () => null;

/** A manager with a target "t" whose handler echoes its inputs. */
function echoManager(options) {
  const m = new ExecutionManager(options);
  m.register("t", (inputs) => inputs);
  return m;
}

/** Values that are not JSON-compatible, by name. */
function badValues() {
  const cycle = { a: 1 };
  cycle.self = cycle;
  const arrCycle = [1];
  arrCycle.push(arrCycle);
  class Point {
    constructor() {
      this.x = 1;
    }
  }
  return {
    undefined: undefined,
    function: () => 1,
    symbol: Symbol("s"),
    bigint: 10n,
    NaN: NaN,
    Infinity: Infinity,
    "-Infinity": -Infinity,
    "object cycle": cycle,
    "array cycle": arrCycle,
    Date: new Date(0),
    Map: new Map([["a", 1]]),
    Set: new Set([1]),
    "class instance": new Point(),
    Uint8Array: new Uint8Array([1, 2]),
    Float64Array: new Float64Array(1),
    ArrayBuffer: new ArrayBuffer(4),
    RegExp: /x/,
    "boxed String": new String("x"),
    Promise: Promise.resolve(1),
  };
}

// ---------------------------------------------------------------------------------------
describe("new ExecutionManager(options)", () => {
  test("valid options: none, {}, positive integers, Infinity, undefined", async () => {
    for (const opts of [
      undefined,
      {},
      { concurrency: 1 },
      { concurrency: 3, maxFinished: 5 },
      { concurrency: Infinity, maxFinished: Infinity },
      { concurrency: undefined, maxFinished: undefined },
      { unknownOption: "ignored?" },
    ]) {
      const m = opts === undefined ? new ExecutionManager() : new ExecutionManager(opts);
      assert.ok(m instanceof ExecutionManager);
      assert.deepEqual(m.counts(), { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 });
      await healthy(m);
    }
  });

  for (const field of ["concurrency", "maxFinished"]) {
    for (const [label, value] of [
      ["0", 0],
      ["-1", -1],
      ["1.5", 1.5],
      ["NaN", NaN],
      ['"3"', "3"],
      ["null", null],
      ["-Infinity", -Infinity],
      ["true", true],
      ["{}", {}],
      ["[]", []],
    ]) {
      test(`${field}: ${label} throws INVALID_ARGUMENT naming ${field}`, async () => {
        throwsExec(null, () => new ExecutionManager({ [field]: value }), "INVALID_ARGUMENT", field);
        // The module (and a new instance) still works after the failed construction.
        await healthy(new ExecutionManager());
      });
    }
  }
});

// ---------------------------------------------------------------------------------------
describe("register", () => {
  test("returns undefined; default type is 'task'; options.type sets the default type", async () => {
    const m = new ExecutionManager();
    assert.equal(m.register("plain", NOOP), undefined);
    assert.equal(m.register("flow", NOOP, { type: "workflow" }), undefined);
    assert.equal(m.register("opts-undefined-type", NOOP, {}), undefined);
    assert.equal(m.create({ targetId: "plain" }).type, "task");
    assert.equal(m.create({ targetId: "flow" }).type, "workflow");
    assert.equal(m.create({ targetId: "opts-undefined-type" }).type, "task");
    // An explicit type on create overrides the target's default.
    assert.equal(m.create({ targetId: "flow", type: "special" }).type, "special");
  });

  test("sync and async handlers both work", async () => {
    const m = new ExecutionManager();
    m.register("sync", (inputs) => ({ sync: inputs.x }));
    m.register("async", async (inputs) => {
      await sleep(1);
      return { async: inputs.x };
    });
    const a = m.create({ targetId: "sync", inputs: { x: 1 } });
    const b = m.create({ targetId: "async", inputs: { x: 2 } });
    assert.deepEqual((await m.wait(a.id)).result, { sync: 1 });
    assert.deepEqual((await m.wait(b.id)).result, { async: 2 });
  });

  test("a taken targetId throws ALREADY_EXISTS naming it; the first handler stays", async () => {
    const m = new ExecutionManager();
    m.register("dup-target", () => "first");
    await expectError(m, () => m.register("dup-target", () => "second"), "ALREADY_EXISTS", "dup-target");
    const e = m.create({ targetId: "dup-target" });
    assert.equal((await m.wait(e.id)).result, "first");
  });

  for (const [label, targetId] of [
    ["empty string", ""],
    ["number", 42],
    ["null", null],
    ["undefined", undefined],
    ["object", {}],
    ["lone surrogate", "t\uD800"],
  ]) {
    test(`bad targetId (${label}) throws INVALID_ARGUMENT naming targetId`, async () => {
      const m = new ExecutionManager();
      await expectError(m, () => m.register(targetId, NOOP), "INVALID_ARGUMENT", "targetId");
    });
  }

  for (const [label, handler] of [
    ["string", "fn"],
    ["null", null],
    ["undefined", undefined],
    ["object", {}],
    ["number", 1],
  ]) {
    test(`bad handler (${label}) throws INVALID_ARGUMENT naming handler`, async () => {
      const m = new ExecutionManager();
      await expectError(m, () => m.register("t", handler), "INVALID_ARGUMENT", "handler");
      // The target was not registered by the failed call.
      m.register("t", NOOP);
    });
  }

  for (const [label, type] of [
    ["empty string", ""],
    ["number", 5],
    ["null", null],
    ["array", ["a"]],
  ]) {
    test(`bad options.type (${label}) throws INVALID_ARGUMENT naming type`, async () => {
      const m = new ExecutionManager();
      await expectError(m, () => m.register("t", NOOP, { type }), "INVALID_ARGUMENT", "type");
      m.register("t", NOOP);
    });
  }
});

// ---------------------------------------------------------------------------------------
describe("create", () => {
  test("returns a pending snapshot, queryable at once; the handler is not called inside create", async () => {
    const m = new ExecutionManager();
    let calls = 0;
    let callsSeenByListener = -1;
    m.register("t", (inputs) => {
      calls++;
      return inputs;
    });
    m.subscribe((ev) => {
      if (ev.type === "created") callsSeenByListener = calls;
    });
    const before = Date.now();
    const e = m.create({ targetId: "t", inputs: { a: 1 }, config: { k: "v" } });
    const after = Date.now();
    assert.equal(calls, 0, "handler not called synchronously");
    assert.equal(callsSeenByListener, 0);
    checkExecutionShape(e);
    assert.equal(e.status, "pending");
    assert.equal(e.targetId, "t");
    assert.equal(e.type, "task");
    assert.deepEqual(e.inputs, { a: 1 });
    assert.deepEqual(e.config, { k: "v" });
    assert.equal(e.progress, null);
    assert.equal(e.startedAt, null);
    assert.equal(e.finishedAt, null);
    assert.ok(e.createdAt >= before - 50 && e.createdAt <= after + 50, `createdAt ${e.createdAt} is ms since epoch`);
    assert.ok(e.updatedAt >= e.createdAt);
    assert.deepEqual(m.status(e.id), e, "queryable at once");
    assert.equal(m.counts().pending, 1);
    const done = await m.wait(e.id);
    assert.equal(calls, 1);
    assert.equal(done.status, "completed");
    assert.deepEqual(done.result, { a: 1 });
    checkExecutionShape(done);
    assert.ok(done.startedAt >= done.createdAt);
    assert.ok(done.finishedAt >= done.startedAt);
    assert.ok(done.updatedAt >= done.finishedAt);
  });

  test("default id is a UUID v4, distinct per execution", () => {
    const m = echoManager();
    const ids = new Set();
    for (let i = 0; i < 50; i++) {
      const e = m.create({ targetId: "t" });
      assert.match(e.id, UUID_V4);
      ids.add(e.id);
    }
    assert.equal(ids.size, 50);
  });

  test("an explicit id is used, including non-ASCII ids", async () => {
    const m = echoManager();
    for (const id of ["job-1", "ünï😀 code", " spaces ", "1"]) {
      const e = m.create({ targetId: "t", id });
      assert.equal(e.id, id);
      assert.equal(m.status(id).id, id);
      assert.equal((await m.wait(id)).status, "completed");
    }
  });

  test("a taken id throws ALREADY_EXISTS naming the id (also across track/create)", async () => {
    const m = echoManager();
    m.create({ targetId: "t", id: "taken" });
    m.track({ targetId: "ext", id: "tracked" });
    await expectError(m, () => m.create({ targetId: "t", id: "taken" }), "ALREADY_EXISTS", "taken");
    await expectError(m, () => m.create({ targetId: "t", id: "tracked" }), "ALREADY_EXISTS", "tracked");
    await expectError(m, () => m.track({ targetId: "t", id: "taken" }), "ALREADY_EXISTS", "taken");
    // Still the original.
    assert.equal(m.status("tracked").targetId, "ext");
  });

  test("an id freed by remove, clear or eviction may be used again", async () => {
    const m = echoManager({ maxFinished: 1 });
    m.create({ targetId: "t", id: "r" });
    await m.wait("r");
    m.remove("r");
    assert.equal(m.status("r"), undefined);
    m.create({ targetId: "t", id: "r", inputs: 2 });
    assert.equal((await m.wait("r")).result, 2);
    // r is the one finished execution; finishing another evicts it.
    m.create({ targetId: "t", id: "s" });
    await m.wait("s");
    assert.equal(m.status("r"), undefined, "r evicted");
    m.create({ targetId: "t", id: "r", inputs: 3 });
    assert.equal((await m.wait("r")).result, 3);
    assert.equal(m.clear(), 1);
    m.create({ targetId: "t", id: "r", inputs: 4 });
    assert.equal((await m.wait("r")).result, 4);
  });

  for (const [label, id] of [
    ["null", null],
    ["empty string", ""],
    ["number", 1],
    ["object", { id: "x" }],
    ["boolean", true],
    ["lone high surrogate", "a\uD800"],
    ["lone low surrogate", "\uDC00b"],
  ]) {
    test(`bad id (${label}) throws INVALID_ARGUMENT naming id`, async () => {
      const m = echoManager();
      await expectError(m, () => m.create({ targetId: "t", id }), "INVALID_ARGUMENT", "id");
      await expectError(m, () => m.track({ targetId: "x", id }), "INVALID_ARGUMENT", "id");
    });
  }

  test("an unregistered targetId throws UNKNOWN_TARGET naming it", async () => {
    const m = echoManager();
    await expectError(m, () => m.create({ targetId: "ghost" }), "UNKNOWN_TARGET", "ghost");
  });

  test("a malformed request throws INVALID_ARGUMENT", async () => {
    const m = echoManager();
    for (const req of [undefined, null, "t", 5, [], () => {}]) {
      await expectError(m, () => m.create(req), "INVALID_ARGUMENT");
    }
    await expectError(m, () => m.create({}), "INVALID_ARGUMENT", "targetId");
    await expectError(m, () => m.create({ targetId: 5 }), "INVALID_ARGUMENT", "targetId");
    await expectError(m, () => m.create({ targetId: "t", type: 5 }), "INVALID_ARGUMENT", "type");
  });

  test("inputs default to {}; null is kept as null; any JSON value is accepted", async () => {
    const m = new ExecutionManager();
    const seen = [];
    m.register("t", (inputs) => {
      seen.push(inputs);
      return inputs;
    });
    const values = [
      null,
      0,
      -1.5,
      "str",
      true,
      false,
      [],
      [1, "a", null, { b: [] }],
      { deep: { x: [1, 2, { y: null }] } },
    ];
    const a = m.create({ targetId: "t" });
    assert.deepEqual(a.inputs, {});
    assert.deepEqual((await m.wait(a.id)).result, {});
    assert.deepEqual(seen.pop(), {});
    for (const v of values) {
      const e = m.create({ targetId: "t", inputs: v });
      assert.deepEqual(e.inputs, v);
      assert.deepEqual(m.status(e.id).inputs, v);
      const done = await m.wait(e.id);
      assert.deepEqual(done.result, v);
      assert.deepEqual(seen.pop(), v, "handler got the inputs");
    }
  });

  test("config defaults to {}; it must be a plain object", async () => {
    const m = echoManager();
    assert.deepEqual(m.create({ targetId: "t" }).config, {});
    assert.deepEqual(m.create({ targetId: "t", config: { a: [1, { b: null }], s: "x" } }).config, {
      a: [1, { b: null }],
      s: "x",
    });
    for (const config of [null, [], "x", 5, true, new Map(), new Date(0)]) {
      await expectError(m, () => m.create({ targetId: "t", config }), "INVALID_ARGUMENT", "config");
      await expectError(m, () => m.track({ targetId: "t", config }), "INVALID_ARGUMENT", "config");
    }
  });

  test("config.timeoutMs must be a finite number > 0", async () => {
    const m = echoManager();
    for (const timeoutMs of [0, -5, "10", true, {}, [10]]) {
      await expectError(m, () => m.create({ targetId: "t", config: { timeoutMs } }), "INVALID_ARGUMENT", "timeoutMs");
      await expectError(m, () => m.track({ targetId: "t", config: { timeoutMs } }), "INVALID_ARGUMENT", "timeoutMs");
    }
    // Valid, including a fractional one; other keys are kept as given.
    const e = m.create({ targetId: "t", config: { timeoutMs: 1000.5, retries: 3, label: "x" } });
    assert.deepEqual(e.config, { timeoutMs: 1000.5, retries: 3, label: "x" });
    assert.equal((await m.wait(e.id)).status, "completed");
  });

  for (const [name, bad] of Object.entries(badValues())) {
    test(`non-JSON value inside inputs/config (${name}) throws INVALID_ARGUMENT`, async () => {
      const m = echoManager();
      await expectError(m, () => m.create({ targetId: "t", inputs: { a: { b: bad } } }), "INVALID_ARGUMENT", "inputs");
      await expectError(m, () => m.create({ targetId: "t", inputs: [1, [bad]] }), "INVALID_ARGUMENT", "inputs");
      await expectError(m, () => m.create({ targetId: "t", config: { nested: [bad] } }), "INVALID_ARGUMENT", "config");
      await expectError(m, () => m.track({ targetId: "t", inputs: { x: bad } }), "INVALID_ARGUMENT", "inputs");
      if (name !== "undefined") {
        // Top level too (undefined at the top level means "absent").
        await expectError(m, () => m.create({ targetId: "t", inputs: bad }), "INVALID_ARGUMENT", "inputs");
      }
    });
  }

  test("nesting: 128 levels are accepted, 129 rejected (outermost is level 1)", async () => {
    const m = echoManager();
    for (const nest of [nestArrays, nestObjects]) {
      const ok = m.create({ targetId: "t", inputs: nest(128) });
      assert.deepEqual(ok.inputs, nest(128));
      assert.deepEqual((await m.wait(ok.id)).result, nest(128), "a 128-level result is accepted");
      await expectError(m, () => m.create({ targetId: "t", inputs: nest(129) }), "INVALID_ARGUMENT", "inputs");
      // config itself is level 1.
      m.create({ targetId: "t", config: { c: nest(127) } });
      await expectError(m, () => m.create({ targetId: "t", config: { c: nest(128) } }), "INVALID_ARGUMENT", "config");
    }
    // Mixed arrays and objects count the same.
    let mixed = 1;
    for (let i = 0; i < 129; i++) mixed = i % 2 ? [mixed] : { k: mixed };
    await expectError(m, () => m.create({ targetId: "t", inputs: mixed }), "INVALID_ARGUMENT", "inputs");
  });

  test("absurdly deep input (100000 levels) is rejected without trapping", async () => {
    const m = echoManager();
    await expectError(m, () => m.create({ targetId: "t", inputs: nestArrays(100000) }), "INVALID_ARGUMENT", "inputs");
    await expectError(m, () => m.create({ targetId: "t", inputs: nestObjects(100000) }), "INVALID_ARGUMENT", "inputs");
  });

  test('"__proto__" is an ordinary own key, in and out', async () => {
    const m = new ExecutionManager();
    let handlerInputs;
    m.register("t", (inputs) => {
      handlerInputs = inputs;
      return JSON.parse('{"__proto__": {"r": 1}, "k": 2}');
    });
    const inputs = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}');
    const config = JSON.parse('{"__proto__": {"c": 1}}');
    assert.ok(Object.hasOwn(inputs, "__proto__"));
    const e = m.create({ targetId: "t", inputs, config });
    const done = await m.wait(e.id);
    for (const [where, obj, expected] of [
      ["snapshot inputs", e.inputs, { polluted: true }],
      ["status inputs", m.status(e.id).inputs, { polluted: true }],
      ["handler inputs", handlerInputs, { polluted: true }],
      ["snapshot config", e.config, { c: 1 }],
      ["result", done.result, { r: 1 }],
    ]) {
      assert.ok(Object.hasOwn(obj, "__proto__"), `${where}: own __proto__ key`);
      assert.deepEqual(Object.getOwnPropertyDescriptor(obj, "__proto__").value, expected, where);
      assert.equal(Object.getPrototypeOf(obj), Object.prototype, `${where}: prototype not replaced`);
    }
    assert.equal(e.inputs.polluted, undefined);
    assert.equal(e.inputs.a, 1);
    assert.equal({}.polluted, undefined, "Object.prototype untouched");
  });

  test("lone surrogates anywhere are rejected; valid pairs round-trip intact", async () => {
    const m = echoManager();
    await expectError(m, () => m.create({ targetId: "t", inputs: { s: "x\uD800y" } }), "INVALID_ARGUMENT", "inputs");
    await expectError(m, () => m.create({ targetId: "t", inputs: { "k\uDFFF": 1 } }), "INVALID_ARGUMENT", "inputs");
    await expectError(m, () => m.create({ targetId: "t", inputs: ["\uDC00\uD800"] }), "INVALID_ARGUMENT", "inputs");
    await expectError(m, () => m.create({ targetId: "t", config: { s: "\uD83D" } }), "INVALID_ARGUMENT", "config");
    await expectError(m, () => m.create({ targetId: "t", type: "ty\uD800" }), "INVALID_ARGUMENT", "type");
    await expectError(m, () => m.track({ targetId: "x\uDBFF" }), "INVALID_ARGUMENT", "targetId");
    const text = "emoji 😀, 𝄞, ünï, \u0000 nul";
    const e = m.create({ targetId: "t", inputs: { [text]: text } });
    assert.deepEqual(e.inputs, { [text]: text });
    assert.deepEqual((await m.wait(e.id)).result, { [text]: text });
  });

  test("lookups with a lone-surrogate id do not trap", async () => {
    const m = echoManager();
    for (const call of [() => m.status("\uD800"), () => m.progress("\uD800")]) {
      try {
        assert.equal(call(), undefined);
      } catch (e) {
        checkError(e, "INVALID_ARGUMENT");
      }
    }
    for (const call of [() => m.cancel("\uD800"), () => m.remove("\uD800"), () => m.start("\uDC00")]) {
      try {
        call();
        assert.fail("should throw");
      } catch (e) {
        assert.ok(["NOT_FOUND", "INVALID_ARGUMENT"].includes(e.code), `code ${e.code}`);
        checkError(e, e.code);
      }
    }
    await healthy(m);
  });

  test("hostile objects (throwing getters, proxies, toJSON) never trap the instance", async () => {
    const m = echoManager();
    const throwingGetter = {
      get a() {
        throw new Error("getter boom");
      },
    };
    const { proxy: revoked, revoke } = Proxy.revocable({}, {});
    revoke();
    const throwingProxy = new Proxy(
      {},
      {
        ownKeys() {
          throw new Error("ownKeys boom");
        },
        get() {
          throw new Error("get boom");
        },
      },
    );
    const withToJSON = { toJSON: () => ({ fine: true }) };
    const hostile = [throwingGetter, revoked, throwingProxy, withToJSON, [throwingGetter], { deep: [revoked] }];
    const calls = [
      (v) => m.create({ targetId: "t", inputs: v }),
      (v) => m.create({ targetId: "t", config: { v } }),
      (v) => m.track({ targetId: "x", inputs: v }),
      (v) => m.create(v),
      (v) => m.list(v),
      (v) => new ExecutionManager(v),
    ];
    for (const value of hostile) {
      for (const call of calls) {
        const before = m.counts();
        try {
          call(value);
        } catch (e) {
          // Any thrown error is acceptable here as long as the instance survives unchanged.
          assert.ok(e instanceof Error, `threw a non-Error: ${String(e)}`);
          assert.deepEqual(m.counts(), before, "counts unchanged after a failed call");
        }
      }
    }
    // toJSON is not consulted: an object with a function-valued key is not JSON-compatible.
    throwsExec(m, () => m.create({ targetId: "t", inputs: withToJSON }), "INVALID_ARGUMENT", "inputs");
    await healthy(m);
    await healthy(new ExecutionManager());
  });

  test("snapshots are copies: mutating them or the caller's objects never changes the manager", async () => {
    const m = new ExecutionManager();
    m.register("t", (inputs, ctx) => {
      inputs.list.push("handler");
      ctx.config.added = true;
      return inputs;
    });
    const inputs = { list: [1], nested: { a: 1 } };
    const config = { c: { d: 1 } };
    const e = m.create({ targetId: "t", inputs, config, id: "copy" });
    // Caller mutates its objects after create.
    inputs.list.push(2);
    inputs.nested.a = 99;
    config.c.d = 99;
    // Caller mutates the returned snapshot.
    e.inputs.list.push("snap");
    e.config.c.d = 42;
    e.status = "completed";
    m.status("copy").inputs.nested.a = -1;
    m.list().items[0].inputs.list.length = 0;
    const done = await m.wait("copy");
    assert.deepEqual(m.status("copy").inputs, { list: [1], nested: { a: 1 } });
    assert.deepEqual(m.status("copy").config, { c: { d: 1 } });
    assert.deepEqual(done.result, { list: [1, "handler"], nested: { a: 1 } });
    done.result.list.push("x");
    assert.deepEqual(m.status("copy").result, { list: [1, "handler"], nested: { a: 1 } });
  });
});

// ---------------------------------------------------------------------------------------
describe("handler execution", () => {
  test("ctx has id, an AbortSignal, a copy of config and progress(); inputs are a copy", async () => {
    const m = new ExecutionManager();
    let seen;
    const inputs = { x: [1, 2] };
    m.register("t", (inp, ctx) => {
      seen = { inp, ctx, keys: Object.keys(ctx), aborted: ctx.signal.aborted };
      return "ok";
    });
    const e = m.create({ targetId: "t", id: "ctx-1", inputs, config: { timeoutMs: 5000, mode: "fast" } });
    await m.wait(e.id);
    assert.equal(seen.ctx.id, "ctx-1");
    assert.ok(seen.ctx.signal instanceof AbortSignal, "signal is an AbortSignal");
    assert.equal(seen.aborted, false);
    assert.equal(seen.ctx.signal.aborted, false, "not aborted after normal completion");
    assert.deepEqual(seen.ctx.config, { timeoutMs: 5000, mode: "fast" });
    assert.equal(typeof seen.ctx.progress, "function");
    assert.deepEqual(seen.inp, inputs);
    assert.notEqual(seen.inp, inputs, "inputs passed as a copy");
  });

  test("ctx.progress reports progress with events; status 'running' precedes it", async () => {
    const m = new ExecutionManager();
    const events = [];
    m.subscribe((ev) =>
      events.push([ev.type, ev.execution.status, ev.execution.progress && { ...ev.execution.progress }]),
    );
    const check = deferred();
    m.register("t", async (inputs, ctx) => {
      ctx.progress(1, 4, "quarter");
      const p = m.progress(ctx.id);
      check.resolve(p);
      await sleep(1);
      ctx.progress(3);
      return "done";
    });
    const e = m.create({ targetId: "t" });
    const p = await check.promise;
    assert.equal(p.current, 1);
    assert.equal(p.total, 4);
    assert.equal(p.message, "quarter");
    assert.equal(p.percentage, 25);
    assert.equal(typeof p.updatedAt, "number");
    const done = await m.wait(e.id);
    assert.deepEqual(done.progress && { ...done.progress, updatedAt: 0 }, {
      current: 3,
      total: null,
      message: null,
      percentage: null,
      updatedAt: 0,
    });
    assert.deepEqual(
      events.map(([t, s]) => `${t}:${s}`),
      ["created:pending", "status:running", "progress:running", "progress:running", "status:completed"],
    );
    assert.equal(events[2][2].percentage, 25);
  });

  test("invalid ctx.progress arguments throw INVALID_ARGUMENT inside the handler", async () => {
    const m = new ExecutionManager();
    const codes = [];
    m.register("t", (inputs, ctx) => {
      for (const args of [[-1], [NaN], [Infinity], ["1"], [], [1, 0], [1, -2], [1, Infinity], [1, "3"], [1, 2, 5]]) {
        try {
          ctx.progress(...args);
          codes.push(`no throw for ${JSON.stringify(args)}`);
        } catch (e) {
          checkError(e, "INVALID_ARGUMENT");
          codes.push(e.code);
        }
      }
      return null;
    });
    const e = m.create({ targetId: "t" });
    const done = await m.wait(e.id);
    assert.deepEqual(codes, Array(10).fill("INVALID_ARGUMENT"));
    assert.equal(done.status, "completed");
    assert.equal(done.progress, null, "no progress recorded by the invalid calls");
  });

  test("resolving completes with a JSON copy of the result; undefined becomes null", async () => {
    const m = new ExecutionManager();
    const kept = { a: [1] };
    m.register("obj", async () => {
      setTimeout(() => kept.a.push(2), 0);
      return kept;
    });
    m.register("undef", async () => undefined);
    m.register("sync-undef", () => {});
    const a = m.create({ targetId: "obj" });
    const b = m.create({ targetId: "undef" });
    const c = m.create({ targetId: "sync-undef" });
    const da = await m.wait(a.id);
    await sleep(5);
    assert.deepEqual(da.result, { a: [1] });
    assert.deepEqual(m.status(a.id).result, { a: [1] }, "late mutation of the returned object is not seen");
    for (const id of [b.id, c.id]) {
      const d = await m.wait(id);
      assert.equal(d.status, "completed");
      assert.ok(Object.hasOwn(d, "result"), "result present");
      assert.equal(d.result, null);
    }
  });

  test("throwing an Error fails with HANDLER_ERROR, its name, message and stack", async () => {
    const m = new ExecutionManager();
    let thrown;
    m.register("async", async () => {
      thrown = new TypeError("boom async");
      throw thrown;
    });
    const a = await m.wait(m.create({ targetId: "async" }).id);
    checkExecutionShape(a);
    assert.equal(a.status, "failed");
    assert.equal(a.error.code, "HANDLER_ERROR");
    assert.equal(a.error.name, "TypeError");
    assert.equal(a.error.message, "boom async");
    assert.equal(a.error.stack, thrown.stack);

    class CustomError extends Error {
      constructor(msg) {
        super(msg);
        this.name = "CustomError";
      }
    }
    m.register("sync", () => {
      throw new CustomError("boom sync");
    });
    const b = await m.wait(m.create({ targetId: "sync" }).id);
    assert.equal(b.status, "failed");
    assert.deepEqual(
      { ...b.error, stack: typeof b.error.stack },
      { code: "HANDLER_ERROR", name: "CustomError", message: "boom sync", stack: "string" },
    );
    assert.ok(b.error.stack.includes("boom sync"));
  });

  for (const [label, value, message] of [
    ["a string", "nope", "nope"],
    ["a number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["a plain object with name/message", { name: "Fake", message: "not an error" }, "[object Object]"],
    ["a boolean", false, "false"],
  ]) {
    test(`throwing/rejecting with ${label} gives name "Error" and message String(value)`, async () => {
      const m = new ExecutionManager();
      m.register("reject", () => Promise.reject(value));
      m.register("throw", () => {
        throw value;
      });
      for (const targetId of ["reject", "throw"]) {
        const d = await m.wait(m.create({ targetId }).id);
        assert.equal(d.status, "failed");
        assert.equal(d.error.code, "HANDLER_ERROR");
        assert.equal(d.error.name, "Error");
        assert.equal(d.error.message, message);
        assert.equal(d.error.stack, undefined);
      }
    });
  }

  test("a non-JSON result fails with INVALID_RESULT", async () => {
    const m = new ExecutionManager();
    const bad = badValues();
    delete bad.undefined; // undefined → null, tested above
    delete bad.Promise; // an async handler's returned promise is awaited
    const cases = {
      ...bad,
      "nested undefined": { a: [undefined] },
      "too deep": nestArrays(129),
      "lone surrogate": { s: "\uD800" },
    };
    for (const [name, value] of Object.entries(cases)) {
      m.register(`r-${name}`, () => value);
      const d = await m.wait(m.create({ targetId: `r-${name}` }).id);
      assert.equal(d.status, "failed", name);
      assert.equal(d.error.code, "INVALID_RESULT", name);
      assert.equal(typeof d.error.message, "string");
      assert.equal(d.result, undefined);
    }
    await healthy(m);
  });

  test("timeoutMs: a running handler fails with TIMEOUT and its signal aborts", async () => {
    const m = new ExecutionManager();
    let signal;
    let abortedAt = null;
    const handlerDone = deferred();
    m.register("slow", async (inputs, ctx) => {
      signal = ctx.signal;
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      abortedAt = Date.now();
      handlerDone.resolve();
      return "too late";
    });
    const e = m.create({ targetId: "slow", config: { timeoutMs: 30 } });
    const d = await m.wait(e.id);
    assert.equal(d.status, "failed");
    assert.equal(d.error.code, "TIMEOUT");
    assert.equal(typeof d.error.message, "string");
    assert.ok(d.finishedAt - d.startedAt >= 25, `timed out after ${d.finishedAt - d.startedAt} ms`);
    assert.equal(signal.aborted, true);
    await handlerDone.promise;
    assert.ok(abortedAt !== null);
    await flush();
    assert.deepEqual(m.status(e.id), d, "the late result changes nothing");
  });

  test("timeoutMs does not fire for a handler that finished in time", async () => {
    const m = new ExecutionManager();
    let signal;
    m.register("fast", (inputs, ctx) => {
      signal = ctx.signal;
      return 1;
    });
    const e = m.create({ targetId: "fast", config: { timeoutMs: 20 } });
    const d = await m.wait(e.id);
    assert.equal(d.status, "completed");
    await sleep(40);
    assert.deepEqual(m.status(e.id), d);
    assert.equal(signal.aborted, false);
  });

  test("a timeoutMs beyond setTimeout's 2^31-1 ms range does not fire early", async () => {
    const m = new ExecutionManager();
    m.register("t", () => new Promise(() => {}));
    const e = m.create({ targetId: "t", config: { timeoutMs: 1e10 } });
    m.track({ targetId: "x", id: "tracked", config: { timeoutMs: 2 ** 31 } });
    m.start("tracked");
    await sleep(30);
    assert.equal(m.status(e.id).status, "running");
    assert.equal(m.status("tracked").status, "running");
    // Cancelling clears the timers (or the test file would not exit).
    m.cancel(e.id);
    m.cancel("tracked");
  });

  test("ctx.progress after the execution became terminal is silently ignored", async () => {
    const m = new ExecutionManager();
    let ctx;
    const started = deferred();
    const release = deferred();
    m.register("t", async (inputs, c) => {
      ctx = c;
      c.progress(1, 10);
      started.resolve();
      await release.promise;
      c.progress(5, 10, "late");
      return "late result";
    });
    const e = m.create({ targetId: "t" });
    await started.promise;
    const cancelled = m.cancel(e.id);
    const events = [];
    m.subscribe((ev) => events.push(ev));
    release.resolve();
    await sleep(5);
    ctx.progress(7); // no throw
    assert.deepEqual(m.status(e.id), cancelled);
    assert.equal(m.status(e.id).progress.current, 1);
    assert.deepEqual(events, []);
  });
});

// ---------------------------------------------------------------------------------------
describe("concurrency", () => {
  test("never exceeds the limit and starts executions in FIFO order", async () => {
    const m = new ExecutionManager({ concurrency: 2 });
    const g = gateTarget(m);
    const ids = ["e1", "e2", "e3", "e4", "e5", "e6"];
    for (const id of ids) m.create({ targetId: "gate", id });
    await until(() => g.started.length === 2, "two starts");
    await flush();
    assert.deepEqual(g.started, ["e1", "e2"]);
    assert.deepEqual(m.counts(), { pending: 4, running: 2, completed: 0, failed: 0, cancelled: 0, total: 6 });
    assert.equal(m.status("e3").status, "pending");
    // Release out of order; the next pending one starts each time.
    const releaseOrder = ["e2", "e1", "e4", "e3", "e6", "e5"];
    for (const id of releaseOrder) {
      await until(() => g.started.includes(id), `${id} started`);
      g.release(id, id);
      assert.equal((await m.wait(id)).result, id);
    }
    assert.deepEqual(g.started, ids, "FIFO start order");
    assert.equal(g.maxInFlight, 2);
    assert.equal(m.counts().completed, 6);
  });

  test("concurrency 1 runs strictly one after another", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    const log = [];
    m.register("t", async (inputs) => {
      log.push(`start ${inputs}`);
      await sleep(2);
      log.push(`end ${inputs}`);
      return inputs;
    });
    const ids = [1, 2, 3].map((n) => m.create({ targetId: "t", inputs: n }).id);
    await Promise.all(ids.map((id) => m.wait(id)));
    assert.deepEqual(log, ["start 1", "end 1", "start 2", "end 2", "start 3", "end 3"]);
  });

  test("Infinity (the default) runs everything at once", async () => {
    const m = new ExecutionManager();
    const g = gateTarget(m);
    for (let i = 0; i < 40; i++) m.create({ targetId: "gate", id: `i${i}` });
    await until(() => g.started.length === 40, "all 40 started");
    assert.equal(m.counts().running, 40);
    for (let i = 0; i < 40; i++) g.release(`i${i}`);
    await until(() => m.counts().completed === 40, "all completed");
  });

  test("handlers that throw synchronously free their slots", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    m.register("t", (inputs) => {
      throw new Error(`sync ${inputs}`);
    });
    const ids = [1, 2, 3].map((n) => m.create({ targetId: "t", inputs: n }).id);
    const done = await Promise.all(ids.map((id) => m.wait(id)));
    assert.deepEqual(
      done.map((d) => d.error.message),
      ["sync 1", "sync 2", "sync 3"],
    );
  });

  test("a cancelled pending execution is skipped; its handler is never called", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    const g = gateTarget(m);
    for (const id of ["a", "b", "c"]) m.create({ targetId: "gate", id });
    await until(() => g.started.length === 1, "a started");
    const b = m.cancel("b", "not needed");
    assert.equal(b.status, "cancelled");
    assert.equal(b.startedAt, null);
    g.release("a");
    await until(() => g.started.length === 2, "next start");
    assert.deepEqual(g.started, ["a", "c"]);
    g.release("c");
    await m.wait("c");
    await flush();
    assert.equal(g.calls, 2, "b's handler never called");
    assert.equal(m.status("b").status, "cancelled");
  });

  test("a cancelled running execution keeps its slot until the handler settles", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    const g = gateTarget(m);
    m.create({ targetId: "gate", id: "a" });
    m.create({ targetId: "gate", id: "b" });
    await until(() => g.started.length === 1, "a started");
    m.cancel("a");
    assert.equal(g.ctx.get("a").signal.aborted, true);
    await sleep(15);
    assert.deepEqual(g.started, ["a"], "b waits while a's handler ignores its signal");
    assert.equal(m.status("b").status, "pending");
    g.release("a", "ignored");
    await until(() => g.started.length === 2, "b started after a settled");
    assert.equal(m.status("a").status, "cancelled");
    assert.equal(m.status("a").result, undefined);
    g.release("b", "b");
    assert.equal((await m.wait("b")).result, "b");
    assert.equal(g.maxInFlight, 1);
  });

  test("a timed-out execution keeps its slot until the handler settles (even if it rejects)", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    const g = gateTarget(m);
    m.create({ targetId: "gate", id: "a", config: { timeoutMs: 20 } });
    m.create({ targetId: "gate", id: "b" });
    const a = await m.wait("a");
    assert.equal(a.error.code, "TIMEOUT");
    await sleep(10);
    assert.deepEqual(g.started, ["a"]);
    assert.equal(m.status("b").status, "pending");
    g.reject("a", new Error("late failure"));
    await until(() => g.started.length === 2, "b started");
    assert.deepEqual(m.status("a"), a, "late rejection changes nothing");
    g.release("b");
    await m.wait("b");
  });
});

// ---------------------------------------------------------------------------------------
describe("externally driven executions", () => {
  test("track returns a pending execution nothing runs; targetId need not be registered", async () => {
    const m = new ExecutionManager();
    let calls = 0;
    m.register("registered", () => calls++);
    const a = m.track({ targetId: "remote-job", inputs: { n: 1 }, config: { k: 1 } });
    checkExecutionShape(a);
    assert.equal(a.status, "pending");
    assert.equal(a.type, "task");
    assert.match(a.id, UUID_V4);
    assert.deepEqual(a.inputs, { n: 1 });
    const b = m.track({ targetId: "registered", id: "b", type: "import" });
    assert.equal(b.type, "import");
    await sleep(10);
    assert.equal(calls, 0, "tracking a registered target does not run its handler");
    assert.equal(m.status(a.id).status, "pending");
    assert.equal(m.status("b").status, "pending");
    await expectError(m, () => m.track({ targetId: "" }), "INVALID_ARGUMENT", "targetId");
    await expectError(m, () => m.track({ targetId: 7 }), "INVALID_ARGUMENT", "targetId");
    await expectError(m, () => m.track({}), "INVALID_ARGUMENT", "targetId");
    await expectError(m, () => m.track(null), "INVALID_ARGUMENT");
    await expectError(m, () => m.track({ targetId: "x", inputs: { f: () => 1 } }), "INVALID_ARGUMENT", "inputs");
  });

  test("start → reportProgress → complete, with snapshots and events", () => {
    const m = new ExecutionManager();
    const events = [];
    m.subscribe((ev) => events.push(`${ev.type}:${ev.execution.status}`));
    m.track({ targetId: "x", id: "j" });
    const s = m.start("j");
    checkExecutionShape(s);
    assert.equal(s.status, "running");
    assert.equal(typeof s.startedAt, "number");
    assert.deepEqual(m.status("j"), s);
    assert.equal(m.reportProgress("j", 2, 8, "two"), undefined);
    const p = m.progress("j");
    assert.deepEqual({ ...p, updatedAt: 0 }, { current: 2, total: 8, message: "two", percentage: 25, updatedAt: 0 });
    const c = m.complete("j", { out: [1] });
    checkExecutionShape(c);
    assert.equal(c.status, "completed");
    assert.deepEqual(c.result, { out: [1] });
    assert.equal(typeof c.finishedAt, "number");
    assert.deepEqual(m.status("j"), c);
    assert.deepEqual(events, ["created:pending", "status:running", "progress:running", "status:completed"]);
  });

  test("complete without a result stores null; the result is copied", () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    const c = m.complete("a");
    assert.ok(Object.hasOwn(c, "result"));
    assert.equal(c.result, null);
    m.track({ targetId: "x", id: "b" });
    m.start("b");
    const result = { list: [1] };
    m.complete("b", result);
    result.list.push(2);
    assert.deepEqual(m.status("b").result, { list: [1] });
  });

  test("complete with a non-JSON result throws INVALID_ARGUMENT naming result; still running", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    for (const bad of [{ f: () => 1 }, 1n, NaN, nestArrays(129), new Date(0), { s: "\uD800" }]) {
      await expectError(m, () => m.complete("a", bad), "INVALID_ARGUMENT", "result");
      assert.equal(m.status("a").status, "running");
    }
    assert.deepEqual(m.complete("a", nestArrays(128)).result, nestArrays(128));
  });

  test("fail with a string, an Error, or an object; defaults code EXTERNAL_ERROR, name Error", () => {
    const m = new ExecutionManager();
    const run = (id) => {
      m.track({ targetId: "x", id });
      m.start(id);
    };
    run("s");
    const fs = m.fail("s", "disk full");
    checkExecutionShape(fs);
    assert.equal(fs.status, "failed");
    assert.equal(fs.error.code, "EXTERNAL_ERROR");
    assert.equal(fs.error.name, "Error");
    assert.equal(fs.error.message, "disk full");
    assert.equal(fs.error.stack, undefined);

    run("e");
    const err = new RangeError("out of range");
    const fe = m.fail("e", err);
    assert.equal(fe.error.code, "EXTERNAL_ERROR");
    assert.equal(fe.error.name, "RangeError");
    assert.equal(fe.error.message, "out of range");
    assert.equal(fe.error.stack, err.stack);

    run("o");
    const fo = m.fail("o", { message: "remote crashed", code: "E_REMOTE", name: "RemoteError", stack: "at remote:1" });
    assert.deepEqual(fo.error, {
      code: "E_REMOTE",
      name: "RemoteError",
      message: "remote crashed",
      stack: "at remote:1",
    });

    run("d");
    const fd = m.fail("d", { message: "minimal" });
    assert.equal(fd.error.code, "EXTERNAL_ERROR");
    assert.equal(fd.error.name, "Error");
    assert.equal(fd.error.message, "minimal");
    assert.equal(fd.error.stack, undefined);
    assert.deepEqual(m.status("d"), fd);
  });

  test("fail with a malformed error throws INVALID_ARGUMENT naming error", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "a" });
    m.start("a");
    for (const bad of [
      undefined,
      null,
      5,
      {},
      { message: 5 },
      { message: "m", code: 5 },
      { message: "m", name: {} },
      { message: "m", stack: 1 },
      ["m"],
      "\uD800",
    ]) {
      await expectError(m, () => m.fail("a", bad), "INVALID_ARGUMENT", "error");
      assert.equal(m.status("a").status, "running");
    }
  });

  test("illegal transitions throw INVALID_TRANSITION naming the id and change nothing", async (t) => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "p" }); // pending
    m.track({ targetId: "x", id: "r" });
    m.start("r"); // running
    m.track({ targetId: "x", id: "c" });
    m.start("c");
    m.complete("c", 1); // completed
    m.track({ targetId: "x", id: "f" });
    m.start("f");
    m.fail("f", "x"); // failed
    m.track({ targetId: "x", id: "k" });
    m.cancel("k"); // cancelled
    const snaps = Object.fromEntries(["p", "r", "c", "f", "k"].map((id) => [id, m.status(id)]));
    const cases = [
      ["complete pending", () => m.complete("p"), "p"],
      ["reportProgress pending", () => m.reportProgress("p", 1), "p"],
      ["start twice", () => m.start("r"), "r"],
      ["start completed", () => m.start("c"), "c"],
      ["complete completed", () => m.complete("c", 2), "c"],
      ["fail completed", () => m.fail("c", "late"), "c"],
      ["reportProgress completed", () => m.reportProgress("c", 1), "c"],
      ["cancel completed", () => m.cancel("c"), "c"],
      ["start failed", () => m.start("f"), "f"],
      ["complete failed", () => m.complete("f"), "f"],
      ["fail failed", () => m.fail("f", "again"), "f"],
      ["cancel failed", () => m.cancel("f"), "f"],
      ["start cancelled", () => m.start("k"), "k"],
      ["complete cancelled", () => m.complete("k"), "k"],
      ["fail cancelled", () => m.fail("k", "x"), "k"],
      ["reportProgress cancelled", () => m.reportProgress("k", 1), "k"],
      ["cancel cancelled", () => m.cancel("k", "again"), "k"],
      ["remove pending", () => m.remove("p"), "p"],
      ["remove running", () => m.remove("r"), "r"],
    ];
    for (const [label, fn, id] of cases) {
      await t.test(label, async () => {
        await expectError(m, fn, "INVALID_TRANSITION", id);
      });
    }
    for (const [id, snap] of Object.entries(snaps)) assert.deepEqual(m.status(id), snap, `${id} unchanged`);
  });

  test("start/reportProgress/complete/fail on handler-driven executions throw INVALID_TRANSITION", async () => {
    const m = new ExecutionManager({ concurrency: 1 });
    const g = gateTarget(m);
    m.create({ targetId: "gate", id: "run" });
    m.create({ targetId: "gate", id: "wait" });
    await until(() => g.started.length === 1, "run started");
    for (const id of ["run", "wait"]) {
      const snap = m.status(id);
      throwsExec(m, () => m.start(id), "INVALID_TRANSITION", id);
      throwsExec(m, () => m.reportProgress(id, 1, 2), "INVALID_TRANSITION", id);
      throwsExec(m, () => m.complete(id, "x"), "INVALID_TRANSITION", id);
      throwsExec(m, () => m.fail(id, "x"), "INVALID_TRANSITION", id);
      assert.deepEqual(m.status(id), snap);
    }
    g.release("run", "r");
    g.release("wait", "w");
    assert.equal((await m.wait("run")).result, "r");
    assert.equal((await m.wait("wait")).result, "w");
  });

  test("unknown ids throw NOT_FOUND naming the id", async (t) => {
    const m = new ExecutionManager();
    for (const [label, fn] of [
      ["start", () => m.start("nope-1")],
      ["reportProgress", () => m.reportProgress("nope-1", 1)],
      ["complete", () => m.complete("nope-1")],
      ["fail", () => m.fail("nope-1", "x")],
      ["cancel", () => m.cancel("nope-1")],
      ["remove", () => m.remove("nope-1")],
    ]) {
      await t.test(label, async () => {
        await expectError(m, fn, "NOT_FOUND", "nope-1");
      });
    }
    await rejectsExec(() => m.wait("nope-1"), "NOT_FOUND", "nope-1");
  });

  test("timeoutMs on a tracked execution counts from start", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "t", config: { timeoutMs: 25 } });
    await sleep(45);
    assert.equal(m.status("t").status, "pending", "no timeout while pending");
    const started = m.start("t");
    const d = await m.wait("t");
    assert.equal(d.status, "failed");
    assert.equal(d.error.code, "TIMEOUT");
    assert.ok(d.finishedAt - started.startedAt >= 20, `${d.finishedAt - started.startedAt} ms`);
    throwsExec(m, () => m.complete("t"), "INVALID_TRANSITION", "t");
    // One completed in time does not time out later.
    m.track({ targetId: "x", id: "u", config: { timeoutMs: 20 } });
    m.start("u");
    const c = m.complete("u", 1);
    await sleep(35);
    assert.deepEqual(m.status("u"), c);
  });
});

// ---------------------------------------------------------------------------------------
describe("progress", () => {
  function running(m, id = "p") {
    m.track({ targetId: "x", id });
    m.start(id);
    return id;
  }

  test("percentage = min(100, current / total * 100); null without total", () => {
    const m = new ExecutionManager();
    const id = running(m);
    for (const [current, total] of [
      [1, 3],
      [0, 5],
      [2, 3],
      [5, 2],
      [0.1, 0.3],
      [7, 7],
      [1e-9, 1e9],
      [3, null],
      [1e300, 1e-300],
    ]) {
      m.reportProgress(id, current, total);
      const p = m.progress(id);
      assert.equal(p.current, current);
      if (total === null) {
        assert.equal(p.total, null);
        assert.equal(p.percentage, null);
      } else {
        assert.equal(p.total, total);
        assert.equal(p.percentage, Math.min(100, (current / total) * 100), `${current}/${total}`);
      }
      assert.equal(p.message, null);
    }
  });

  test("current may go down; message and total are optional, null means absent", () => {
    const m = new ExecutionManager();
    const id = running(m);
    m.reportProgress(id, 5, 10, "half");
    assert.equal(m.progress(id).message, "half");
    m.reportProgress(id, 2);
    assert.deepEqual(
      { ...m.progress(id), updatedAt: 0 },
      { current: 2, total: null, message: null, percentage: null, updatedAt: 0 },
    );
    m.reportProgress(id, 3, null, "no total");
    assert.deepEqual(
      { ...m.progress(id), updatedAt: 0 },
      { current: 3, total: null, message: "no total", percentage: null, updatedAt: 0 },
    );
    m.reportProgress(id, 1, 4, null);
    assert.deepEqual(
      { ...m.progress(id), updatedAt: 0 },
      { current: 1, total: 4, message: null, percentage: 25, updatedAt: 0 },
    );
    assert.deepEqual(m.status(id).progress, m.progress(id));
  });

  test("progress() is null before any report and undefined for unknown ids", () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "fresh" });
    assert.equal(m.progress("fresh"), null);
    m.start("fresh");
    assert.equal(m.progress("fresh"), null);
    assert.equal(m.progress("unknown"), undefined);
  });

  test("invalid progress arguments throw INVALID_ARGUMENT naming the field", async () => {
    const m = new ExecutionManager();
    const id = running(m);
    m.reportProgress(id, 1, 2, "kept");
    const before = m.progress(id);
    for (const [args, field] of [
      [[-1], "current"],
      [[-0.001, 5], "current"],
      [[NaN], "current"],
      [[Infinity], "current"],
      [["1"], "current"],
      [[null], "current"],
      [[], "current"],
      [[1, 0], "total"],
      [[1, -1], "total"],
      [[1, NaN], "total"],
      [[1, Infinity], "total"],
      [[1, "2"], "total"],
      [[1, 2, 3], "message"],
      [[1, 2, {}], "message"],
      [[1, 2, "\uD800"], "message"],
    ]) {
      await expectError(m, () => m.reportProgress(id, ...args), "INVALID_ARGUMENT", field);
    }
    assert.deepEqual(m.progress(id), before);
  });

  test("completion with a known total sets current = total and percentage 100, without a progress event", async () => {
    const m = new ExecutionManager();
    const id = running(m);
    m.reportProgress(id, 3, 12, "working");
    const events = [];
    m.subscribe((ev) => events.push(ev.type));
    const c = m.complete(id, "ok");
    assert.equal(c.progress.current, 12);
    assert.equal(c.progress.total, 12);
    assert.equal(c.progress.percentage, 100);
    assert.deepEqual(m.progress(id), c.progress);
    assert.deepEqual(events, ["status"]);

    // Handler-driven too.
    m.register("h", (inputs, ctx) => {
      ctx.progress(1, 3);
      return "ok";
    });
    const d = await m.wait(m.create({ targetId: "h" }).id);
    assert.equal(d.progress.current, 3);
    assert.equal(d.progress.total, 3);
    assert.equal(d.progress.percentage, 100);
  });

  test("completion without a total leaves progress as reported; failure and cancel keep it too", () => {
    const m = new ExecutionManager();
    const a = running(m, "a");
    m.reportProgress(a, 4);
    const c = m.complete(a);
    assert.equal(c.progress.current, 4);
    assert.equal(c.progress.total, null);
    assert.equal(c.progress.percentage, null);
    const b = running(m, "b");
    m.reportProgress(b, 1, 4);
    assert.equal(m.fail(b, "x").progress.percentage, 25);
    const k = running(m, "k");
    m.reportProgress(k, 2, 4);
    assert.equal(m.cancel(k).progress.percentage, 50);
    const n = running(m, "n");
    assert.equal(m.complete(n).progress, null);
  });

  test("progress snapshots are copies", () => {
    const m = new ExecutionManager();
    const id = running(m);
    m.reportProgress(id, 1, 2, "m");
    const p = m.progress(id);
    p.current = 99;
    m.status(id).progress.total = 1000;
    assert.equal(m.progress(id).current, 1);
    assert.equal(m.progress(id).total, 2);
  });
});

// ---------------------------------------------------------------------------------------
describe("status / progress lookups", () => {
  test("unknown ids give undefined; non-string ids are never coerced", async () => {
    const m = echoManager();
    m.create({ targetId: "t", id: "1" });
    m.track({ targetId: "x", id: "null" });
    m.track({ targetId: "x", id: "[object Object]" });
    assert.equal(m.status("missing"), undefined);
    assert.equal(m.progress("missing"), undefined);
    for (const id of [1, null, undefined, {}, { toString: () => "1" }, ["1"], true, 1n, Symbol("1")]) {
      assert.equal(m.status(id), undefined, `status(${String(id)})`);
      assert.equal(m.progress(id), undefined, `progress(${String(id)})`);
    }
    assert.equal(m.status("1").id, "1");
    for (const [label, fn] of [
      ["cancel", () => m.cancel(1)],
      ["remove", () => m.remove(1)],
      ["start", () => m.start(null)],
      ["complete", () => m.complete({ toString: () => "1" })],
      ["fail", () => m.fail(1, "x")],
      ["reportProgress", () => m.reportProgress(1, 1)],
    ]) {
      const err = throwsExec(m, fn, "NOT_FOUND");
      assert.ok(err, label);
    }
    await rejectsExec(() => m.wait(1), "NOT_FOUND");
    assert.equal((await m.wait("1")).status, "completed");
    await healthy(m);
  });
});

// ---------------------------------------------------------------------------------------
describe("list", () => {
  /**
   * 12 executions, created in this order (seq 0..11):
   * id      target type   status
   */
  const FIXTURE = [
    ["x0", "alpha", "task", "pending"],
    ["x1", "alpha", "task", "running"],
    ["x2", "beta", "import", "completed"],
    ["x3", "alpha", "import", "failed"],
    ["x4", "beta", "task", "cancelled"],
    ["x5", "alpha", "export", "completed"],
    ["x6", "beta", "export", "running"],
    ["x7", "alpha", "task", "completed"],
    ["x8", "beta", "import", "pending"],
    ["x9", "alpha", "task", "failed"],
    ["x10", "beta", "export", "cancelled"],
    ["x11", "alpha", "task", "completed"],
  ];

  function fixture() {
    const m = new ExecutionManager();
    for (const [id, targetId, type, status] of FIXTURE) {
      m.track({ id, targetId, type });
      if (status === "cancelled") m.cancel(id);
      if (status === "pending" || status === "cancelled") continue;
      m.start(id);
      if (status === "completed") m.complete(id, id);
      if (status === "failed") m.fail(id, id);
    }
    return m;
  }

  const ids = (page) => page.items.map((e) => e.id);
  const select = (pred, order = "desc") => {
    const rows = FIXTURE.filter(([id, targetId, type, status]) => pred({ id, targetId, type, status })).map(
      (r) => r[0],
    );
    return order === "desc" ? rows.reverse() : rows;
  };

  test("defaults: page 1, pageSize 20, newest first", () => {
    const m = fixture();
    const p = m.list();
    assert.deepEqual(Object.keys(p).sort(), [
      "hasNext",
      "items",
      "nextCursor",
      "page",
      "pageSize",
      "total",
      "totalPages",
    ]);
    assert.deepEqual(
      ids(p),
      select(() => true),
    );
    assert.equal(p.total, 12);
    assert.equal(p.page, 1);
    assert.equal(p.pageSize, 20);
    assert.equal(p.totalPages, 1);
    assert.equal(p.hasNext, false);
    assert.equal(p.nextCursor, null);
    for (const e of p.items) {
      checkExecutionShape(e);
      assert.deepEqual(e, m.status(e.id));
    }
    assert.deepEqual(m.list({}), p);
  });

  test("order asc and desc follow creation sequence", () => {
    const m = fixture();
    assert.deepEqual(
      ids(m.list({ order: "asc" })),
      select(() => true, "asc"),
    );
    assert.deepEqual(
      ids(m.list({ order: "desc" })),
      select(() => true, "desc"),
    );
  });

  test("order is by creation sequence, not by clock or id", () => {
    const m = new ExecutionManager();
    // Same millisecond, ids in reverse lexical order.
    for (const id of ["z", "y", "x", "w", "v"]) m.track({ targetId: "t", id });
    assert.deepEqual(ids(m.list({ order: "asc" })), ["z", "y", "x", "w", "v"]);
    assert.deepEqual(ids(m.list()), ["v", "w", "x", "y", "z"]);
  });

  test("status filter: one value or an array (any of); an empty array matches nothing", () => {
    const m = fixture();
    for (const s of STATUSES) {
      const p = m.list({ status: s });
      assert.deepEqual(
        ids(p),
        select((r) => r.status === s),
        s,
      );
      assert.equal(p.total, select((r) => r.status === s).length);
    }
    const multi = m.list({ status: ["completed", "failed"], order: "asc" });
    assert.deepEqual(
      ids(multi),
      select((r) => r.status === "completed" || r.status === "failed", "asc"),
    );
    assert.deepEqual(
      ids(m.list({ status: ["running"] })),
      select((r) => r.status === "running"),
    );
    const none = m.list({ status: [] });
    assert.deepEqual(none.items, []);
    assert.equal(none.total, 0);
    assert.equal(none.totalPages, 0);
    assert.equal(none.hasNext, false);
    assert.equal(none.nextCursor, null);
    assert.equal(none.page, 1);
  });

  test("type and targetId filters, combined with status", () => {
    const m = fixture();
    assert.deepEqual(
      ids(m.list({ type: "import" })),
      select((r) => r.type === "import"),
    );
    assert.deepEqual(
      ids(m.list({ type: ["import", "export"] })),
      select((r) => r.type !== "task"),
    );
    assert.deepEqual(ids(m.list({ type: [] })), []);
    assert.deepEqual(ids(m.list({ type: "nope" })), []);
    assert.deepEqual(
      ids(m.list({ targetId: "beta" })),
      select((r) => r.targetId === "beta"),
    );
    assert.deepEqual(ids(m.list({ targetId: "gamma" })), []);
    const combo = m.list({ targetId: "alpha", type: "task", status: ["completed", "pending"], order: "asc" });
    assert.deepEqual(ids(combo), ["x0", "x7", "x11"]);
    assert.equal(combo.total, 3);
  });

  test("page mode: sizes, totals, hasNext, nextCursor and a page past the end", () => {
    const m = fixture();
    const all = select(() => true);
    const p1 = m.list({ pageSize: 5 });
    assert.deepEqual(ids(p1), all.slice(0, 5));
    assert.equal(p1.total, 12);
    assert.equal(p1.totalPages, 3);
    assert.equal(p1.hasNext, true);
    assert.equal(typeof p1.nextCursor, "string");
    const p3 = m.list({ pageSize: 5, page: 3 });
    assert.deepEqual(ids(p3), all.slice(10));
    assert.equal(p3.page, 3);
    assert.equal(p3.hasNext, false);
    assert.equal(p3.nextCursor, null);
    const past = m.list({ pageSize: 5, page: 7 });
    assert.deepEqual(past.items, []);
    assert.equal(past.total, 12);
    assert.equal(past.page, 7);
    assert.equal(past.totalPages, 3);
    assert.equal(past.hasNext, false);
    assert.equal(past.nextCursor, null);
    const exact = m.list({ pageSize: 6, page: 2 });
    assert.equal(exact.totalPages, 2);
    assert.equal(exact.hasNext, false);
    assert.equal(m.list({ pageSize: 1 }).totalPages, 12);
    assert.equal(m.list({ pageSize: 1000 }).items.length, 12);
    // A page-mode nextCursor continues after the page.
    const next = m.list({ pageSize: 5, cursor: p1.nextCursor });
    assert.deepEqual(ids(next), all.slice(5, 10));
    assert.equal(next.page, null);
  });

  test("cursor mode walks every item once, in both orders, with filters", () => {
    const m = fixture();
    for (const order of ["asc", "desc"]) {
      for (const filter of [
        {},
        { status: ["completed", "failed"] },
        { targetId: "alpha" },
        { type: "task", status: "completed" },
      ]) {
        for (const pageSize of [1, 2, 3, 5, 12, 13]) {
          const seen = [];
          let page = m.list({ ...filter, order, pageSize });
          for (let guard = 0; ; guard++) {
            assert.ok(guard < 50, "terminates");
            seen.push(...ids(page));
            assert.equal(page.hasNext, page.nextCursor !== null);
            if (!page.hasNext) break;
            page = m.list({ ...filter, order, pageSize, cursor: page.nextCursor });
            assert.equal(page.page, null);
            assert.equal(page.pageSize, pageSize);
          }
          const expected = select(
            (r) =>
              (filter.status === undefined || [filter.status].flat().includes(r.status)) &&
              (filter.type === undefined || r.type === filter.type) &&
              (filter.targetId === undefined || r.targetId === filter.targetId),
            order,
          );
          assert.deepEqual(seen, expected, JSON.stringify({ filter, order, pageSize }));
        }
      }
    }
  });

  test("cursor paging is stable while executions are created and removed", () => {
    const m = new ExecutionManager();
    for (let i = 0; i < 10; i++) {
      m.track({ targetId: "t", id: `c${i}` });
      m.start(`c${i}`);
      m.complete(`c${i}`);
    }
    // asc: c0..c2, then remove c2 (last returned) and c4 (not yet shown), create n1.
    const p1 = m.list({ order: "asc", pageSize: 3 });
    assert.deepEqual(ids(p1), ["c0", "c1", "c2"]);
    m.remove("c2");
    m.remove("c4");
    m.remove("c0");
    m.track({ targetId: "t", id: "n1" });
    const p2 = m.list({ order: "asc", pageSize: 3, cursor: p1.nextCursor });
    assert.deepEqual(ids(p2), ["c3", "c5", "c6"]);
    assert.equal(p2.total, 8);
    assert.equal(p2.totalPages, 3);
    assert.equal(p2.hasNext, true);
    const p3 = m.list({ order: "asc", pageSize: 3, cursor: p2.nextCursor });
    assert.deepEqual(ids(p3), ["c7", "c8", "c9"]);
    assert.equal(p3.hasNext, true, "n1 follows");
    const p4 = m.list({ order: "asc", pageSize: 3, cursor: p3.nextCursor });
    assert.deepEqual(ids(p4), ["n1"]);
    assert.equal(p4.hasNext, false);
    assert.equal(p4.nextCursor, null);

    // desc: newer creations come before the cursor and are not shown.
    const d1 = m.list({ pageSize: 2 });
    assert.deepEqual(ids(d1), ["n1", "c9"]);
    m.track({ targetId: "t", id: "n2" });
    m.remove("c9");
    m.remove("c7");
    const d2 = m.list({ pageSize: 2, cursor: d1.nextCursor });
    assert.deepEqual(ids(d2), ["c8", "c6"]);
    const d3 = m.list({ pageSize: 10, cursor: d2.nextCursor });
    assert.deepEqual(ids(d3), ["c5", "c3", "c1"]);
    assert.equal(d3.hasNext, false);
  });

  test("a cursor whose every later item was removed gives an empty last page", () => {
    const m = new ExecutionManager();
    for (const id of ["a", "b", "c"]) {
      m.track({ targetId: "t", id });
      m.cancel(id);
    }
    const p1 = m.list({ order: "asc", pageSize: 2 });
    assert.equal(p1.hasNext, true);
    m.remove("c");
    const p2 = m.list({ order: "asc", pageSize: 2, cursor: p1.nextCursor });
    assert.deepEqual(p2.items, []);
    assert.equal(p2.total, 2);
    assert.equal(p2.hasNext, false);
    assert.equal(p2.nextCursor, null);
  });

  test("malformed queries throw INVALID_ARGUMENT naming the field", async () => {
    const m = fixture();
    const cursor = m.list({ pageSize: 2 }).nextCursor;
    const cases = [
      [{ status: "bogus" }, "status"],
      [{ status: ["completed", "bogus"] }, "status"],
      [{ status: 5 }, "status"],
      [{ status: [1] }, "status"],
      [{ status: null }, "status"],
      [{ type: 5 }, "type"],
      [{ type: [5] }, "type"],
      [{ type: null }, "type"],
      [{ targetId: 5 }, "targetId"],
      [{ targetId: ["alpha"] }, "targetId"],
      [{ targetId: null }, "targetId"],
      [{ page: 0 }, "page"],
      [{ page: -1 }, "page"],
      [{ page: 1.5 }, "page"],
      [{ page: "1" }, "page"],
      [{ page: NaN }, "page"],
      [{ page: Infinity }, "page"],
      [{ page: null }, "page"],
      [{ pageSize: 0 }, "pageSize"],
      [{ pageSize: 1001 }, "pageSize"],
      [{ pageSize: 2.5 }, "pageSize"],
      [{ pageSize: "10" }, "pageSize"],
      [{ pageSize: null }, "pageSize"],
      [{ order: "up" }, "order"],
      [{ order: "ASC" }, "order"],
      [{ order: 1 }, "order"],
      [{ order: null }, "order"],
      [{ cursor: "garbage" }, "cursor"],
      [{ cursor: "" }, "cursor"],
      [{ cursor: 5 }, "cursor"],
      [{ cursor: null }, "cursor"],
      [{ cursor, page: 2 }, ["cursor", "page"]],
      [{ cursor, page: 1 }, ["cursor", "page"]],
    ];
    for (const [query, field] of cases) {
      await expectError(m, () => m.list(query), "INVALID_ARGUMENT", field);
    }
    await expectError(m, () => m.list(5), "INVALID_ARGUMENT");
    await expectError(m, () => m.list("status=running"), "INVALID_ARGUMENT");
  });

  test("unknown query fields are ignored", () => {
    const m = fixture();
    assert.deepEqual(m.list({ foo: 1, limit: 2, sort: "x" }), m.list());
  });
});

// ---------------------------------------------------------------------------------------
describe("counts", () => {
  test("counts every status over the executions held", async () => {
    const m = new ExecutionManager();
    assert.deepEqual(m.counts(), { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 });
    assert.deepEqual(Object.keys(m.counts()).sort(), COUNT_KEYS);
    m.track({ targetId: "x", id: "p" });
    m.track({ targetId: "x", id: "r" });
    m.start("r");
    m.track({ targetId: "x", id: "c" });
    m.start("c");
    m.complete("c");
    m.track({ targetId: "x", id: "f" });
    m.start("f");
    m.fail("f", "e");
    m.track({ targetId: "x", id: "k" });
    m.cancel("k");
    m.track({ targetId: "x", id: "k2" });
    m.cancel("k2");
    assert.deepEqual(m.counts(), { pending: 1, running: 1, completed: 1, failed: 1, cancelled: 2, total: 6 });
    m.remove("k2");
    assert.deepEqual(m.counts(), { pending: 1, running: 1, completed: 1, failed: 1, cancelled: 1, total: 5 });
    assert.equal(m.clear(), 3);
    assert.deepEqual(m.counts(), { pending: 1, running: 1, completed: 0, failed: 0, cancelled: 0, total: 2 });
    const c = m.counts();
    c.total = 100;
    assert.equal(m.counts().total, 2);
  });
});

// ---------------------------------------------------------------------------------------
describe("cancel", () => {
  test("a running handler's signal aborts before cancel returns; reason is kept", async () => {
    const m = new ExecutionManager();
    const started = deferred();
    let signal;
    let abortedDuringCancel = false;
    let inCancel = false;
    m.register("t", async (inputs, ctx) => {
      signal = ctx.signal;
      ctx.signal.addEventListener("abort", () => {
        abortedDuringCancel = inCancel;
      });
      started.resolve();
      await new Promise(() => {}); // never settles
    });
    const e = m.create({ targetId: "t", id: "k" });
    await started.promise;
    assert.equal(signal.aborted, false);
    inCancel = true;
    const c = m.cancel("k", "user asked");
    inCancel = false;
    assert.equal(abortedDuringCancel, true, "abort listener ran inside cancel");
    assert.equal(signal.aborted, true);
    checkExecutionShape(c);
    assert.equal(c.status, "cancelled");
    assert.equal(c.cancelReason, "user asked");
    assert.equal(typeof c.finishedAt, "number");
    assert.deepEqual(m.status(e.id), c);
    assert.deepEqual(await m.wait("k"), c);
  });

  test("cancelling a just-created execution: its handler is never called", async () => {
    const m = new ExecutionManager();
    let calls = 0;
    m.register("t", () => calls++);
    const e = m.create({ targetId: "t" });
    const c = m.cancel(e.id);
    assert.equal(c.status, "cancelled");
    assert.equal(c.cancelReason, undefined);
    assert.equal(c.startedAt, null);
    await flush(10);
    assert.equal(calls, 0);
    assert.deepEqual(m.status(e.id), c);
  });

  test("a late handler result, rejection or progress after cancel changes nothing", async () => {
    const m = new ExecutionManager();
    const gate = { ok: deferred(), bad: deferred() };
    const ctxs = {};
    m.register("t", async (inputs, ctx) => {
      ctxs[inputs] = ctx;
      const v = await gate[inputs].promise;
      ctx.progress(9, 10);
      if (inputs === "bad") throw new Error(v);
      return v;
    });
    m.create({ targetId: "t", id: "ok", inputs: "ok" });
    m.create({ targetId: "t", id: "bad", inputs: "bad" });
    await until(() => ctxs.ok && ctxs.bad, "both started");
    const cOk = m.cancel("ok");
    const cBad = m.cancel("bad", "stop");
    const events = [];
    m.subscribe((ev) => events.push(ev));
    gate.ok.resolve("late result");
    gate.bad.resolve("late error");
    await flush(10);
    assert.deepEqual(m.status("ok"), cOk);
    assert.deepEqual(m.status("bad"), cBad);
    assert.equal(events.length, 0, "no events after cancel");
  });

  test("a handler may cancel its own execution; its return value is then ignored", async () => {
    const m = new ExecutionManager();
    let abortedInside;
    m.register("t", (inputs, ctx) => {
      const c = m.cancel(ctx.id, "self");
      abortedInside = ctx.signal.aborted;
      assert.equal(c.status, "cancelled");
      return "after";
    });
    const d = await m.wait(m.create({ targetId: "t" }).id);
    assert.equal(d.status, "cancelled");
    assert.equal(d.cancelReason, "self");
    assert.equal(d.result, undefined);
    assert.equal(abortedInside, true);
  });

  test("cancel on a terminal execution throws INVALID_TRANSITION; reason must be a string", async () => {
    const m = echoManager();
    const e = m.create({ targetId: "t", id: "done" });
    await m.wait(e.id);
    await expectError(m, () => m.cancel("done"), "INVALID_TRANSITION", "done");
    m.track({ targetId: "x", id: "p" });
    for (const reason of [5, {}, ["r"], "\uD800"]) {
      await expectError(m, () => m.cancel("p", reason), "INVALID_ARGUMENT", "reason");
      assert.equal(m.status("p").status, "pending");
    }
    const c = m.cancel("p", "");
    assert.equal(c.status, "cancelled");
    await expectError(m, () => m.cancel("p", "again"), "INVALID_TRANSITION", "p");
    assert.deepEqual(m.status("p"), c);
  });
});

// ---------------------------------------------------------------------------------------
describe("wait", () => {
  test("resolves with the terminal snapshot for completed, failed and cancelled", async () => {
    const m = new ExecutionManager();
    m.register("ok", () => "yes");
    m.register("bad", () => {
      throw new Error("no");
    });
    m.register("hang", () => new Promise(() => {}));
    const a = m.create({ targetId: "ok" });
    const b = m.create({ targetId: "bad" });
    const c = m.create({ targetId: "hang" });
    const pa = m.wait(a.id);
    const pb = m.wait(b.id);
    const pc = m.wait(c.id);
    const pc2 = m.wait(c.id);
    assert.ok(pa instanceof Promise);
    await until(() => m.status(c.id).status === "running", "hang running");
    m.cancel(c.id, "bye");
    const [ra, rb, rc, rc2] = await Promise.all([pa, pb, pc, pc2]);
    assert.equal(ra.status, "completed");
    assert.equal(ra.result, "yes");
    assert.equal(rb.status, "failed");
    assert.equal(rb.error.message, "no");
    assert.equal(rc.status, "cancelled");
    assert.equal(rc.cancelReason, "bye");
    assert.deepEqual(rc2, rc);
    // After the fact too.
    assert.deepEqual(await m.wait(a.id), ra);
    assert.deepEqual(await m.wait(b.id), rb);
    assert.deepEqual(await m.wait(c.id), rc);
  });

  test("resolves for tracked executions completed later", async () => {
    const m = new ExecutionManager();
    m.track({ targetId: "x", id: "w" });
    const p = m.wait("w");
    let settled = false;
    p.then(() => (settled = true));
    await flush();
    assert.equal(settled, false, "not resolved while pending");
    m.start("w");
    await flush();
    assert.equal(settled, false, "not resolved while running");
    const c = m.complete("w", 5);
    assert.deepEqual(await p, c);
  });

  test("rejects NOT_FOUND with an ExecutionError for an unknown id", async () => {
    const m = new ExecutionManager();
    const err = await rejectsExec(() => m.wait("ghost-id"), "NOT_FOUND", "ghost-id");
    assert.ok(err instanceof Error);
    await healthy(m);
  });
});

// ---------------------------------------------------------------------------------------
describe("remove / clear", () => {
  test("remove returns the terminal snapshot and forgets the execution", async () => {
    const m = echoManager();
    const e = m.create({ targetId: "t", id: "r", inputs: { a: 1 } });
    const done = await m.wait("r");
    const removed = m.remove("r");
    assert.deepEqual(removed, done);
    assert.equal(m.status("r"), undefined);
    assert.equal(m.progress("r"), undefined);
    assert.equal(m.counts().total, 0);
    assert.deepEqual(m.list().items, []);
    await expectError(m, () => m.remove("r"), "NOT_FOUND", "r");
    await rejectsExec(() => m.wait("r"), "NOT_FOUND", "r");
    assert.ok(e);
  });

  test("remove of an active execution throws INVALID_TRANSITION", async () => {
    const m = new ExecutionManager();
    const g = gateTarget(m);
    m.create({ targetId: "gate", id: "busy" });
    await expectError(m, () => m.remove("busy"), "INVALID_TRANSITION", "busy"); // pending
    await until(() => g.started.includes("busy"), "busy started");
    await expectError(m, () => m.remove("busy"), "INVALID_TRANSITION", "busy"); // running
    g.release("busy");
    await m.wait("busy");
    assert.equal(m.remove("busy").status, "completed");
  });

  test("clear removes every terminal execution, returns how many, and emits one 'removed' each", () => {
    const m = new ExecutionManager();
    for (const id of ["a", "b", "c", "d", "e"]) m.track({ targetId: "x", id });
    m.start("b");
    m.cancel("c");
    m.start("d");
    m.complete("d");
    m.start("e");
    m.fail("e", "x");
    const removed = [];
    m.subscribe((ev) => ev.type === "removed" && removed.push(ev.execution.id));
    assert.equal(m.clear(), 3);
    assert.deepEqual(removed.sort(), ["c", "d", "e"]);
    assert.deepEqual(ids(m.list({ order: "asc" })), ["a", "b"]);
    assert.equal(m.clear(), 0);
  });

  function ids(page) {
    return page.items.map((e) => e.id);
  }
});

// ---------------------------------------------------------------------------------------
describe("maxFinished eviction", () => {
  test("keeps at most maxFinished terminal executions, evicting the earliest finished", () => {
    const m = new ExecutionManager({ maxFinished: 2 });
    const events = [];
    m.subscribe((ev) => events.push(`${ev.type}:${ev.execution.id}`));
    for (const id of ["a", "b", "c", "d"]) {
      m.track({ targetId: "x", id });
      m.start(id);
    }
    // Finish in an order different from creation: c, a, d, b.
    m.complete("c");
    m.fail("a", "x");
    assert.deepEqual(m.counts(), { pending: 0, running: 2, completed: 1, failed: 1, cancelled: 0, total: 4 });
    events.length = 0;
    m.cancel("d");
    assert.equal(m.status("c"), undefined, "c finished first and is evicted");
    assert.deepEqual(
      events.filter((e) => e.startsWith("removed")),
      ["removed:c"],
    );
    m.complete("b");
    assert.equal(m.status("a"), undefined, "then a");
    assert.deepEqual(
      events.filter((e) => e.startsWith("removed")),
      ["removed:c", "removed:a"],
    );
    assert.equal(m.status("d").status, "cancelled");
    assert.equal(m.status("b").status, "completed");
    assert.deepEqual(m.counts(), { pending: 0, running: 0, completed: 1, failed: 0, cancelled: 1, total: 2 });
    // Active executions never count against the limit.
    for (let i = 0; i < 5; i++) m.track({ targetId: "x", id: `p${i}` });
    assert.equal(m.counts().pending, 5);
    assert.equal(m.counts().total, 7);
  });

  test("the removed event carries the evicted snapshot; handler-driven executions are evicted too", async () => {
    const m = echoManager({ maxFinished: 1 });
    const removed = [];
    m.subscribe((ev) => ev.type === "removed" && removed.push(ev.execution));
    const first = await m.wait(m.create({ targetId: "t", id: "first", inputs: 1 }).id);
    const second = await m.wait(m.create({ targetId: "t", id: "second", inputs: 2 }).id);
    assert.deepEqual(removed, [first]);
    assert.deepEqual(m.list().items, [second]);
    // An evicted id can be reused.
    m.create({ targetId: "t", id: "first", inputs: 3 });
    assert.equal((await m.wait("first")).result, 3);
    assert.equal(m.status("second"), undefined);
  });
});

// ---------------------------------------------------------------------------------------
describe("subscribe", () => {
  test("created/status/progress/removed events in order, each with a snapshot", async () => {
    const m = new ExecutionManager();
    const events = [];
    m.subscribe((ev) => events.push(ev));
    m.register("t", async (inputs, ctx) => {
      ctx.progress(1, 2, "half");
      await sleep(1);
      return "r";
    });
    m.create({ targetId: "t", id: "h" });
    const done = await m.wait("h");
    m.remove("h");
    for (const ev of events) {
      assert.deepEqual(Object.keys(ev).sort(), ["execution", "type"]);
      checkExecutionShape(ev.execution);
    }
    assert.deepEqual(
      events.map((e) => `${e.type}:${e.execution.id}:${e.execution.status}`),
      ["created:h:pending", "status:h:running", "progress:h:running", "status:h:completed", "removed:h:completed"],
    );
    assert.equal(events[2].execution.progress.percentage, 50);
    assert.deepEqual(events[3].execution, done);
    // Event snapshots are copies.
    events[3].execution.result = "changed";
    assert.equal(done.result, "r");
  });

  test("a listener's changes are delivered after the current event reached every listener, before the outer call returns", () => {
    const m = new ExecutionManager();
    const log = [];
    let nested;
    let logInsideNested;
    m.subscribe((ev) => {
      log.push(`A ${ev.type} ${ev.execution.id}`);
      if (ev.type === "created" && ev.execution.id === "outer") {
        nested = m.track({ targetId: "x", id: "inner" });
        m.start("inner");
        assert.equal(m.status("inner").status, "running", "the listener sees its own change at once");
        logInsideNested = [...log];
      }
    });
    m.subscribe((ev) => log.push(`B ${ev.type} ${ev.execution.id}`));
    const outer = m.track({ targetId: "x", id: "outer" });
    assert.equal(outer.id, "outer");
    assert.equal(nested.status, "pending");
    assert.deepEqual(logInsideNested, ["A created outer"]);
    assert.deepEqual(log, [
      "A created outer",
      "B created outer",
      "A created inner",
      "B created inner",
      "A status inner",
      "B status inner",
    ]);
  });

  test("a listener may cancel from inside a 'status' event", async () => {
    const m = new ExecutionManager();
    let signal;
    m.register("t", async (inputs, ctx) => {
      signal = ctx.signal;
      await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
      return "ignored";
    });
    m.subscribe((ev) => {
      if (ev.type === "status" && ev.execution.status === "running") m.cancel(ev.execution.id, "from listener");
    });
    const e = m.create({ targetId: "t" });
    const d = await m.wait(e.id);
    assert.equal(d.status, "cancelled");
    assert.equal(d.cancelReason, "from listener");
    await flush();
    // The handler may or may not have been called; if it was, its signal is aborted.
    assert.ok(signal === undefined || signal.aborted, "signal aborted");
  });

  test("a throwing listener is isolated: the change happens and other listeners run", async () => {
    const m = new ExecutionManager();
    const seen = [];
    m.subscribe(() => {
      throw new Error("listener boom");
    });
    m.subscribe((ev) => seen.push(ev.type));
    const e = m.track({ targetId: "x", id: "iso" });
    assert.equal(e.status, "pending");
    m.start("iso");
    m.complete("iso", 1);
    assert.deepEqual(seen, ["created", "status", "status"]);
    assert.equal(m.status("iso").status, "completed");
    await healthy(m);
  });

  test("unsubscribe stops delivery and is idempotent", () => {
    const m = new ExecutionManager();
    const a = [];
    const b = [];
    const unA = m.subscribe((ev) => a.push(ev.type));
    m.subscribe((ev) => b.push(ev.type));
    assert.equal(typeof unA, "function");
    m.track({ targetId: "x", id: "1" });
    unA();
    unA();
    m.track({ targetId: "x", id: "2" });
    assert.deepEqual(a, ["created"]);
    assert.deepEqual(b, ["created", "created"]);
    // Subscribing the same function twice gives two independent subscriptions.
    const c = [];
    const fn = (ev) => c.push(ev.execution.id);
    const un1 = m.subscribe(fn);
    const un2 = m.subscribe(fn);
    m.track({ targetId: "x", id: "3" });
    un1();
    m.track({ targetId: "x", id: "4" });
    un2();
    m.track({ targetId: "x", id: "5" });
    assert.deepEqual(c, ["3", "3", "4"]);
  });

  test("subscribe with a non-function throws INVALID_ARGUMENT naming listener", async () => {
    const m = new ExecutionManager();
    for (const bad of [undefined, null, "f", {}, 1]) {
      await expectError(m, () => m.subscribe(bad), "INVALID_ARGUMENT", "listener");
    }
  });
});

// Results and inputs must be JSON-compatible: each `@ts-expect-error` line below is a handler (or
// a value) the manager would refuse at run time (INVALID_RESULT, INVALID_ARGUMENT), and tsc must
// refuse it too. The lines without the directive are the JSON shapes that must pass.
import { ExecutionManager } from "execman";

const manager = new ExecutionManager();

class Money {
  constructor(readonly cents: number) {}
  format(): string {
    return `${this.cents / 100}`;
  }
}
interface WithDate {
  id: string;
  at: Date;
}

// ---- results ----------------------------------------------------------------------------------

// @ts-expect-error a Date is not JSON-compatible
manager.register("date", async () => new Date());
// @ts-expect-error a Date inside an object
manager.register("date-nested", async () => ({ at: new Date() }));
// @ts-expect-error an interface with a Date field
manager.register("date-interface", async (): Promise<WithDate> => ({ id: "a", at: new Date() }));
// @ts-expect-error a Map
manager.register("map", async () => new Map<string, number>());
// @ts-expect-error a Set inside an array
manager.register("set", () => [new Set([1])]);
// @ts-expect-error a function
manager.register("function", () => () => 1);
// @ts-expect-error a method in an object
manager.register("method", () => ({ url: "x", open() {} }));
// @ts-expect-error an instance of a class with methods
manager.register("class", async () => new Money(100));
// @ts-expect-error a bigint
manager.register("bigint", () => ({ rows: 10n }));
// @ts-expect-error a symbol
manager.register("symbol", () => Symbol("s"));
// @ts-expect-error undefined inside an object (a required field)
manager.register("undefined-field", () => ({ url: undefined }));
// @ts-expect-error a field that may be undefined
manager.register("maybe-undefined-field", (inputs: { n: number }) => ({ url: inputs.n > 0 ? "x" : undefined }));
// @ts-expect-error undefined inside an array
manager.register("undefined-item", () => [1, undefined]);
// @ts-expect-error a typed array
manager.register("bytes", () => ({ data: new Uint8Array(4) }));
// @ts-expect-error a promise inside the result (only the outer promise is awaited)
manager.register("inner-promise", () => ({ later: Promise.resolve(1) }));
// @ts-expect-error unknown proves nothing
manager.register("unknown", (): unknown => 1);
// @ts-expect-error a record of unknown values proves nothing either
manager.register("record-unknown", (): Record<string, unknown> => ({}));

// ---- inputs -----------------------------------------------------------------------------------

// @ts-expect-error a handler cannot take a Date: its inputs are copies of JSON values
manager.register("date-input", (inputs: { at: Date }) => inputs.at.getTime());
// @ts-expect-error nor a Map
manager.register("map-input", (inputs: Map<string, number>) => inputs.size);
// @ts-expect-error nor a function
manager.register("function-input", (inputs: { cb: () => void }) => null);

// @ts-expect-error create refuses a Date in inputs
manager.create({ targetId: "t", inputs: { at: new Date() } });
// @ts-expect-error and a function
manager.create({ targetId: "t", inputs: { f: () => 1 } });
// @ts-expect-error track too
manager.track({ targetId: "t", inputs: [new Map()] });
// @ts-expect-error complete refuses a class instance with methods
manager.complete("id", new Money(1));

// ---- what passes --------------------------------------------------------------------------------

interface Optional {
  url: string;
  size?: number;
}
manager.register("optional", (): Optional => ({ url: "x" }));
manager.register("null", () => null);
manager.register("numbers", () => [1, -0, 2.5]);
manager.register("instance-data", () => ({ ...new Money(5) }));
manager.register("date-as-text", () => ({ at: new Date(0).toISOString() }));
manager.create({ targetId: "t", inputs: null });
manager.create({ targetId: "t", inputs: [1, "a", true, null, { b: [] }] });

// ExecutionError is a class at run time: `instanceof` narrows to it, its `code` is the union of
// the contract's codes (a misspelled code is an error), and it can be used as a value.
import { ExecutionError, ExecutionManager } from "execman";
import type { ErrorCode, ExecutionErrorCode } from "execman";

const manager = new ExecutionManager();

function describe(e: unknown): string {
  if (e instanceof ExecutionError) {
    const code: ErrorCode = e.code;
    const name: "ExecutionError" = e.name;
    const message: string = e.message;
    const error: Error = e;
    switch (e.code) {
      case "NOT_FOUND":
      case "ALREADY_EXISTS":
      case "INVALID_ARGUMENT":
      case "INVALID_TRANSITION":
      case "UNKNOWN_TARGET":
      case "STORE_ERROR":
      case "RESOURCE_EXHAUSTED":
        return `${code} ${name} ${message} ${error.stack ?? ""}`;
      default: {
        // Every code is handled above: `e.code` is `never` here.
        const unreachable: never = e.code;
        return unreachable;
      }
    }
  }
  return String(e);
}

async function waitOrNull(id: string) {
  try {
    return await manager.wait(id);
  } catch (e) {
    if (e instanceof ExecutionError && e.code === "NOT_FOUND") return null;
    // @ts-expect-error `e` is unknown until narrowed
    e.code;
    throw e;
  }
}

function cancelQuietly(id: string): void {
  try {
    manager.cancel(id);
  } catch (e) {
    if (!(e instanceof ExecutionError)) throw e;
    // @ts-expect-error "NOT_FOUD" is not an ErrorCode: the comparison can never be true
    if (e.code === "NOT_FOUD") return;
    // @ts-expect-error HANDLER_ERROR is a failure code of a failed execution, not of an ExecutionError
    if (e.code === "HANDLER_ERROR") return;
    if (e.code !== "INVALID_TRANSITION") throw e;
  }
}

// As a value: constructed, thrown, compared, passed around as a constructor.
const made = new ExecutionError("INVALID_ARGUMENT", "invalid argument `request.inputs`");
const isError: boolean = made instanceof Error;
const Ctor: typeof ExecutionError = ExecutionError;
const codes: ExecutionErrorCode[] = ["NOT_FOUND", "STORE_ERROR"];
function rethrow(): never {
  throw new Ctor("NOT_FOUND", "no execution `x`");
}
// @ts-expect-error the constructor takes a contract code
new ExecutionError("NOT_AN_ERROR_CODE", "m");
// @ts-expect-error code is one of the codes, not any string
const anyCode: ExecutionError["code"] = "OOPS";

// A failure stored on a failed execution keeps an open code (HANDLER_ERROR, TIMEOUT, external ones).
async function failureCode(id: string): Promise<string | undefined> {
  const done = await manager.wait(id);
  return done.error?.code;
}

void [describe, waitOrNull, cancelQuietly, isError, codes, rethrow, anyCode, failureCode];

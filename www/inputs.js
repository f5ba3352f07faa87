// Reading the inputs of a simulated target: every field has a documented default when it is
// missing (undefined or null) and a range; anything else makes the handler throw an Error that
// names the field (`inputs.sizeMb must be a number between 0.1 and 100, got 1000000000`), so the
// execution fails at once with that message instead of running for ever.
//
// Used by the simulated targets of www/targets.js (dashboard, Web Worker, Service Worker) and by
// the terminal demo's (scripts/demo-targets.mjs). Plain ES module, no DOM and no Node API.

/** The longest a simulated execution may run, in ms: each target's bounds keep it under this. */
export const MAX_RUN_MS = 60_000;

/** `value` in a message: JSON where it has one, short. */
function shown(value) {
  let text;
  try {
    text = typeof value === "number" || typeof value === "bigint" ? String(value) : JSON.stringify(value);
  } catch {
    text = undefined;
  }
  text ??= Object.prototype.toString.call(value);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

const missing = (value) => value === undefined || value === null;

/**
 * The inputs object itself: undefined or null (no inputs) reads as `{}`; anything but a plain
 * object (an array, a string, …) throws.
 * @param {unknown} inputs
 * @returns {Record<string, unknown>}
 */
export function inputsObject(inputs) {
  if (missing(inputs)) return {};
  if (typeof inputs !== "object" || Array.isArray(inputs)) {
    throw new TypeError(`inputs must be an object, got ${shown(inputs)}`);
  }
  return /** @type {Record<string, unknown>} */ (inputs);
}

/**
 * A number field: `fallback` when missing; a finite number in [min, max] (a whole number if
 * `integer`), else a TypeError (wrong type) or RangeError (out of range) naming the field.
 * @param {Record<string, unknown>} inputs
 * @param {string} field
 * @param {{ min: number, max: number, fallback?: number, integer?: boolean }} rule
 *   without `fallback` the field is optional: missing gives undefined.
 * @returns {number | undefined}
 */
export function numberField(inputs, field, { min, max, fallback, integer = false }) {
  const value = inputs[field];
  if (missing(value)) return fallback;
  const what = `inputs.${field} must be ${integer ? "a whole number" : "a number"} between ${min} and ${max}, got ${shown(value)}`;
  if (typeof value !== "number") throw new TypeError(what);
  if (!Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
    throw new RangeError(what);
  }
  return value;
}

/**
 * A string field: `fallback` when missing; a string of at most `maxLength` characters, else a
 * TypeError naming the field.
 * @param {Record<string, unknown>} inputs
 * @param {string} field
 * @param {{ fallback: string, maxLength?: number }} rule
 * @returns {string}
 */
export function stringField(inputs, field, { fallback, maxLength = 200 }) {
  const value = inputs[field];
  if (missing(value)) return fallback;
  if (typeof value !== "string" || value.length > maxLength) {
    throw new TypeError(`inputs.${field} must be a string of at most ${maxLength} characters, got ${shown(value)}`);
  }
  return value;
}

/**
 * A list of strings: `fallback` when missing; an array of `minItems`..`maxItems` strings of at
 * most `maxLength` characters each, else a TypeError naming the field.
 * @param {Record<string, unknown>} inputs
 * @param {string} field
 * @param {{ fallback: string[], minItems?: number, maxItems: number, maxLength?: number }} rule
 * @returns {string[]}
 */
export function stringListField(inputs, field, { fallback, minItems = 1, maxItems, maxLength = 100 }) {
  const value = inputs[field];
  if (missing(value)) return [...fallback];
  if (
    !Array.isArray(value) ||
    value.length < minItems ||
    value.length > maxItems ||
    !value.every((item) => typeof item === "string" && item.length <= maxLength)
  ) {
    throw new TypeError(
      `inputs.${field} must be an array of ${minItems} to ${maxItems} strings of at most ${maxLength} characters, got ${shown(value)}`,
    );
  }
  return [...value];
}

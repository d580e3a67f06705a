/**
 * Lambda's event filtering for Kafka event source mappings (FilterCriteria; serverless.yml `filterPatterns`):
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html and kafka-filtering.html.
 * - Only the record's `value` can be filtered on. A value that is JSON is matched as parsed JSON; any other
 *   value as its UTF-8 text (so `{ value: [{ prefix: "INFO" }] }` works on plain strings).
 * - A record is delivered when ANY filter matches; one that matches none is dropped and its offset committed.
 * - A filter is an object of keys; every key must match (and). A key's rule is a nested object (a field of
 *   an object) or an array of conditions, any of which may match (or). `$or: [pattern, ...]` matches when one
 *   of the patterns does. A field that holds an array matches when one of its elements does.
 * - Conditions: a string, number, boolean or null literal (equals; "" matches the empty string),
 *   `{ "equals-ignore-case": "x" }`, `{ prefix: "x" }`, `{ suffix: "x" }`, `{ "anything-but": literal |
 *   [literals] | { prefix } | { suffix } | { "equals-ignore-case" } }`, `{ numeric: ["=", 5] }` or ranges
 *   `{ numeric: [">", 0, "<=", 10] }`, `{ exists: true | false }`.
 * Parsed and checked once at start-up: a pattern Lambda would refuse is an error naming where it is.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export class FilterPatternError extends Error {
  override name = "FilterPatternError";
}

type Condition = (value: Json | undefined) => boolean;

/** A compiled pattern: true when the (parsed) value matches. */
export type CompiledPattern = (value: Json | undefined) => boolean;

const NUMERIC_OPERATORS = new Set(["=", "<", "<=", ">", ">="]);

function fail(where: string, message: string): never {
  throw new FilterPatternError(`${where}: ${message}`);
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isLiteral = (value: unknown): value is string | number | boolean | null =>
  value === null || typeof value === "string" || typeof value === "number" || typeof value === "boolean";

/** One element of a field's values, or the field itself when it is not an array. */
const elementsOf = (value: Json | undefined): (Json | undefined)[] => (Array.isArray(value) ? value : [value]);

function stringCondition(where: string, operand: unknown, test: (text: string) => boolean): Condition {
  if (typeof operand !== "string") fail(where, `expects a string (got ${JSON.stringify(operand)})`);
  return (value) => typeof value === "string" && test(value);
}

function numericCondition(where: string, operand: unknown): Condition {
  if (!Array.isArray(operand) || operand.length === 0 || operand.length % 2 !== 0 || operand.length > 4)
    fail(where, `numeric expects [op, number] or [op, number, op, number] (got ${JSON.stringify(operand)})`);
  const checks: ((n: number) => boolean)[] = [];
  for (let i = 0; i < operand.length; i += 2) {
    const op = operand[i];
    const bound = operand[i + 1];
    if (typeof op !== "string" || !NUMERIC_OPERATORS.has(op)) fail(where, `unknown numeric operator ${JSON.stringify(op)}`);
    if (typeof bound !== "number" || !Number.isFinite(bound))
      fail(where, `numeric bound must be a number (got ${JSON.stringify(bound)})`);
    checks.push(
      op === "="
        ? (n) => n === bound
        : op === "<"
          ? (n) => n < bound
          : op === "<="
            ? (n) => n <= bound
            : op === ">"
              ? (n) => n > bound
              : (n) => n >= bound,
    );
  }
  return (value) => typeof value === "number" && checks.every((check) => check(value));
}

function anythingBut(where: string, operand: unknown): Condition {
  if (isLiteral(operand)) return (value) => value !== undefined && value !== operand;
  if (Array.isArray(operand)) {
    if (!operand.every(isLiteral)) fail(where, "anything-but takes literals");
    return (value) => value !== undefined && !operand.includes(value as never);
  }
  if (isObject(operand) && Object.keys(operand).length === 1) {
    const [name, inner] = Object.entries(operand)[0] as [string, unknown];
    if (name === "prefix" || name === "suffix" || name === "equals-ignore-case") {
      const positive = condition(`${where}.${name}`, { [name]: inner });
      return (value) => typeof value === "string" && !positive(value);
    }
  }
  fail(
    where,
    `anything-but takes a literal, a list of literals, or { prefix | suffix | equals-ignore-case } (got ${JSON.stringify(operand)})`,
  );
}

/** One element of a rule's array: a literal or a one-key operator object. */
function condition(where: string, rule: unknown): Condition {
  if (isLiteral(rule)) return (value) => value === rule;
  if (!isObject(rule) || Object.keys(rule).length !== 1)
    fail(where, `expects a literal or a one-operator object (got ${JSON.stringify(rule)})`);
  const [operator, operand] = Object.entries(rule)[0] as [string, unknown];
  const at = `${where}.${operator}`;
  switch (operator) {
    case "prefix":
      return stringCondition(at, operand, (text) => text.startsWith(operand as string));
    case "suffix":
      return stringCondition(at, operand, (text) => text.endsWith(operand as string));
    case "equals-ignore-case": {
      const lower = typeof operand === "string" ? operand.toLowerCase() : operand;
      return stringCondition(at, operand, (text) => text.toLowerCase() === lower);
    }
    case "anything-but":
      return anythingBut(at, operand);
    case "numeric":
      return numericCondition(at, operand);
    case "exists":
      if (typeof operand !== "boolean") fail(at, "expects true or false");
      // Handled by the key (it concerns the field's presence, not its value).
      return operand ? (value) => value !== undefined : (value) => value === undefined;
    default:
      fail(
        at,
        `unknown filter operator "${operator}" (Lambda knows prefix, suffix, equals-ignore-case, anything-but, numeric, exists)`,
      );
  }
}

/** A rule: an array of conditions (or), or an object of nested keys (and). */
function compileRule(where: string, rule: unknown): CompiledPattern {
  if (Array.isArray(rule)) {
    if (rule.length === 0) fail(where, "an empty list matches nothing");
    const conditions = rule.map((one, index) => condition(`${where}[${index}]`, one));
    const absentOk = conditions.some((one) => one(undefined));
    return (value) => {
      if (value === undefined) return absentOk;
      return elementsOf(value).some((element) => conditions.some((one) => one(element)));
    };
  }
  if (isObject(rule)) return compileObject(where, rule);
  fail(where, `expects a list of conditions or an object of fields (got ${JSON.stringify(rule)})`);
}

function compileObject(where: string, pattern: Record<string, unknown>): CompiledPattern {
  const keys = Object.entries(pattern);
  if (keys.length === 0) fail(where, "an empty pattern");
  const checks = keys.map(([key, rule]): CompiledPattern => {
    if (key === "$or") {
      if (!Array.isArray(rule) || rule.length < 2 || !rule.every(isObject))
        fail(`${where}.$or`, "expects a list of at least two patterns");
      const alternatives = rule.map((one, index) => compileObject(`${where}.$or[${index}]`, one as Record<string, unknown>));
      return (value) => alternatives.some((alternative) => alternative(value));
    }
    const inner = compileRule(`${where}.${key}`, rule);
    return (value) => {
      if (value === undefined || value === null || typeof value !== "object") return inner(undefined);
      if (Array.isArray(value))
        return value.some((element) => isObject(element) && inner((element as Record<string, Json>)[key]));
      return inner((value as Record<string, Json>)[key]);
    };
  });
  return (value) => checks.every((check) => check(value));
}

/** One of serverless.yml's `filterPatterns` (or a FilterCriteria Pattern string) -> a test on the record's value. */
export function compileFilterPattern(where: string, pattern: unknown): CompiledPattern {
  let parsed = pattern;
  if (typeof pattern === "string") {
    try {
      parsed = JSON.parse(pattern);
    } catch {
      fail(where, "is not JSON");
    }
  }
  if (!isObject(parsed)) fail(where, `expects an object like { value: { field: [ ... ] } } (got ${JSON.stringify(parsed)})`);
  const unknown = Object.keys(parsed).filter((key) => key !== "value");
  if (unknown.length)
    fail(where, `Kafka event source mappings filter on "value" only (got ${unknown.map((k) => `"${k}"`).join(", ")})`);
  if (!("value" in parsed)) fail(where, 'names no "value"');
  return compileRule(`${where}.value`, parsed.value);
}

/** The record value as the filters see it: parsed JSON when it is JSON, else its UTF-8 text; no value: absent. */
export function filterableValue(value: Buffer | null | undefined): Json | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.toString("utf8");
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** True when any pattern matches (the record is delivered); no patterns: every record is. */
export function matchesAny(patterns: readonly CompiledPattern[] | undefined, value: Buffer | null | undefined): boolean {
  if (!patterns || patterns.length === 0) return true;
  const parsed = filterableValue(value);
  return patterns.some((pattern) => pattern(parsed));
}

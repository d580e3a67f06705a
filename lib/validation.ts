import { isLosslessNumber } from "lossless-json";
import type { z } from "zod";
import { type FieldIssue, type InputLocation, InvalidInputError } from "./errors.js";

/** Errors list at most this many issues; a bulk body of 1,000 broken items would otherwise answer megabytes. */
export const MAX_REPORTED_ISSUES = 100;

/** "[3].amount", "nameOrig", "$" for the value itself. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let field = "";
  for (const part of path) {
    if (typeof part === "number") field += `[${part}]`;
    else field += field ? `.${String(part)}` : String(part);
  }
  return field || "$";
}

/**
 * Zod's issues as {field, reason}. An unknown key becomes one issue on that key; a missing one says
 * "required" (needs the parse option `reportInput: true`, else zod 4 says "expected X, received
 * undefined"); a union of types (money: number or string) says which types it takes.
 */
export function issuesFromZod(error: z.ZodError): FieldIssue[] {
  const issues: FieldIssue[] = [];
  for (const issue of error.issues) {
    const field = fieldPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) issues.push({ field: fieldPath([...issue.path, key]), reason: "unknown field" });
    } else if (issue.code === "invalid_type" && isLosslessNumber(issue.input)) {
      // A JSON number the body parser kept as text (too many digits for a double): say which.
      const text = issue.input.value;
      issues.push({ field, reason: `expected ${issue.expected} (got ${text.length > 40 ? `${text.slice(0, 40)}…` : text})` });
    } else if (issue.path.length > 0 && "input" in issue && issue.input === undefined) {
      issues.push({ field, reason: "required" });
    } else if (
      issue.code === "invalid_union" &&
      issue.errors.every((branch) => branch.every((one) => one.code === "invalid_type"))
    ) {
      const expected = issue.errors.flatMap((branch) => branch.map((one) => (one.code === "invalid_type" ? one.expected : "")));
      issues.push({ field, reason: `expected ${[...new Set(expected)].join(" or ")}` });
    } else {
      issues.push({ field, reason: issue.message });
    }
  }
  return issues;
}

/** An InvalidInputError from zod's issues, listing at most MAX_REPORTED_ISSUES of them. */
export function invalidInput(location: InputLocation, error: z.ZodError): InvalidInputError {
  const issues = issuesFromZod(error);
  const shown = issues.slice(0, MAX_REPORTED_ISSUES);
  const more = issues.length - shown.length;
  const what = location === "body" ? "the request body is invalid" : `invalid ${location} parameters`;
  return new InvalidInputError(
    location,
    shown,
    more > 0 ? `${what} (${issues.length} issues, first ${shown.length} listed)` : what,
  );
}

import type { z } from "zod";

/** One thing wrong with a request: where (a body path like "[3].amount", a query parameter) and why. */
export interface FieldIssue {
  field: string;
  reason: string;
}

/**
 * An error that carries its HTTP status. The one error middleware (lib/http/middleware.ts) turns it
 * into a JSON problem response; messages of statuses below 500 are shown to the client.
 */
export class HttpError extends Error {
  override name = "HttpError";
  readonly status: number;
  readonly issues: FieldIssue[] | undefined;
  readonly headers: Record<string, string>;
  /** Whether the client may read `message`; by default only for 4xx. */
  readonly expose: boolean;

  constructor(
    status: number,
    message: string,
    options: { issues?: FieldIssue[]; headers?: Record<string, string>; cause?: unknown; expose?: boolean } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = status;
    this.issues = options.issues;
    this.headers = options.headers ?? {};
    this.expose = options.expose ?? status < 500;
  }
}

/** Where invalid input came from decides the status: a body that parses but is wrong is 422, a bad URL or header is 400. */
export type InputLocation = "body" | "query" | "path" | "header";

export class InvalidInputError extends HttpError {
  override name = "InvalidInputError";
  constructor(
    readonly location: InputLocation,
    issues: FieldIssue[],
    message = location === "body" ? "the request body is invalid" : `invalid ${location} parameters`,
  ) {
    super(location === "body" ? 422 : 400, message, { issues });
  }
}

export class MalformedJsonError extends HttpError {
  override name = "MalformedJsonError";
  constructor(reason: string, cause?: unknown) {
    super(400, `the request body is not valid JSON: ${reason}`, { cause });
  }
}

export class UnsupportedMediaTypeError extends HttpError {
  override name = "UnsupportedMediaTypeError";
  constructor(contentType: string | undefined) {
    super(415, `expected Content-Type: application/json${contentType ? `, got ${contentType}` : " (none sent)"}`);
  }
}

export class PayloadTooLargeError extends HttpError {
  override name = "PayloadTooLargeError";
  constructor(bytes: number, limit: number) {
    super(413, `the request body is ${bytes} bytes; the limit is ${limit}`);
  }
}

export class NotFoundError extends HttpError {
  override name = "NotFoundError";
  constructor(message: string) {
    super(404, message);
  }
}

/** Responses list at most this many issues; a bulk body of 1,000 broken items would otherwise answer megabytes. */
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

import { TxlogError } from "../errors.js";

/**
 * What can be wrong with a request before any domain code sees it (the body's size, type and syntax).
 * Like the domain errors, they carry no status: lib/http/problem.ts maps every error to one.
 */
export class MalformedJsonError extends TxlogError {
  constructor(reason: string, options?: ErrorOptions) {
    super(`the request body is not valid JSON: ${reason}`, options);
  }
}

export class UnsupportedMediaTypeError extends TxlogError {
  constructor(contentType: string | undefined) {
    super(`expected Content-Type: application/json${contentType ? `, got ${contentType}` : " (none sent)"}`);
  }
}

export class PayloadTooLargeError extends TxlogError {
  constructor(bytes: number, limit: number) {
    super(`the request body is ${bytes} bytes; the limit is ${limit}`);
  }
}

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
  /** `bytes` undefined: a body sent without Content-Length, refused as soon as it passed the limit. */
  constructor(bytes: number | undefined, limit: number) {
    super(
      bytes === undefined
        ? `the request body is larger than the limit of ${limit} bytes`
        : `the request body is ${bytes} bytes; the limit is ${limit}`,
    );
  }
}

/** A Host header the server does not answer to: a DNS-rebinding page names its own domain there. */
export class HostNotAllowedError extends TxlogError {
  constructor(host: string | undefined) {
    super(
      host
        ? `this server does not answer to the host name in "Host: ${host}"; add it to HTTP_ALLOWED_HOSTS to allow it`
        : "the request has no Host header",
    );
  }
}

/** A browser request from a web page of another origin that is not allowed (CORS_ALLOWED_ORIGINS). */
export class OriginNotAllowedError extends TxlogError {
  constructor(origin: string) {
    super(`requests from the web origin ${origin} are not allowed; add it to CORS_ALLOWED_ORIGINS to allow it`);
  }
}

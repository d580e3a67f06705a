import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { LosslessNumber, parse } from "lossless-json";
import { isExactAsDouble } from "../money.js";
import { MalformedJsonError, PayloadTooLargeError, UnsupportedMediaTypeError } from "./errors.js";
import { headerValue } from "./headers.js";

/** application/json, application/problem+json, with or without parameters: what @middy/http-json-body-parser accepts. */
const JSON_MEDIA_TYPE = /^application\/([^;]+\+)?json(;|$)/;

/**
 * A JSON number stays a JS number only when the double is the decimal the client wrote; otherwise it
 * stays a LosslessNumber holding the digits, so money never passes through a binary float and a value
 * with too many digits is rejected by validation instead of rounded (lib/transaction.ts Money).
 */
function parseNumber(text: string): number | LosslessNumber {
  return isExactAsDouble(text) ? Number(text) : new LosslessNumber(text);
}

/** JSON text -> value, numbers exact (lossless-json: a linear parser; JSON.parse rounds every number to a double). */
export function parseJsonExact(text: string): unknown {
  return parse(text, null, parseNumber);
}

/**
 * The body steps of a JSON route, in order: 413 over `maxBytes` before anything reads the body, 400
 * for no body, 415 for a content type that is not JSON, 400 for unparseable JSON; then `event.body`
 * holds the parsed value. Our own rather than @middy/http-json-body-parser, which answers 415 for both
 * a wrong type and bad syntax (telling them apart meant matching its message text) and parses with
 * JSON.parse, which rounds numbers.
 */
export function jsonBody(maxBytes: number): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    name: "jsonBody",
    before: (request) => {
      const { event } = request;
      const { body, isBase64Encoded } = event;
      if (typeof body === "string" && body.length * 3 > maxBytes) {
        // Cheap upper bound first: a UTF-8 string is at most 3 bytes per UTF-16 unit (or smaller when base64).
        const bytes = Buffer.byteLength(body, isBase64Encoded ? "base64" : "utf8");
        if (bytes > maxBytes) throw new PayloadTooLargeError(bytes, maxBytes);
      }
      if (body === null || body === undefined || body === "") throw new MalformedJsonError("the body is empty");
      const contentType = headerValue(event, "content-type");
      if (contentType === undefined || !JSON_MEDIA_TYPE.test(contentType)) throw new UnsupportedMediaTypeError(contentType);
      const text = isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
      try {
        (event as { body: unknown }).body = parseJsonExact(text);
      } catch (error) {
        throw new MalformedJsonError((error as Error).message, { cause: error });
      }
    },
  };
}

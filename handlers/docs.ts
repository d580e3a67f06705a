import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { config } from "../lib/config.js";
import { API_KEY_SCHEME, openApiDocument } from "../lib/docs/openapi.js";
import { isTextAsset, readSwaggerUiAsset, swaggerUiPage } from "../lib/docs/swagger-ui.js";
import { NotFoundError } from "../lib/errors.js";
import { jsonResponse, route } from "../lib/http/handler.js";

/**
 * The API's base path as the client sees it: "" under serverless-offline (no stage prefix), "/dev"
 * behind API Gateway, where requestContext.path carries the stage and event.path does not.
 */
function basePath(event: APIGatewayProxyEvent): string {
  const fullPath = event.requestContext?.path ?? event.path;
  return fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : "";
}

/** GET /openapi.json */
export const openapi = route(async (event) => jsonResponse(200, openApiDocument(basePath(event) || "/")));

/**
 * Locally (serverless-offline sets IS_OFFLINE) the page pre-fills the API key so "Try it out" just
 * works; deployed, the page is public and must never carry the key.
 */
const prefilledApiKey = config.IS_OFFLINE ? { scheme: API_KEY_SCHEME, value: config.API_KEY } : undefined;

/**
 * GET /docs: Swagger UI. Its URLs are absolute paths under the base path, so the page works at /docs,
 * at /docs/ (serverless-offline strips the slash before the handler sees it) and at /{stage}/docs.
 */
export const page = route(async (event) => {
  const base = basePath(event);
  return {
    statusCode: 200,
    headers: { "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache" },
    body: swaggerUiPage({ specUrl: `${base}/openapi.json`, assetBase: `${base}/docs/`, apiKey: prefilledApiKey }),
  };
});

/** GET /docs/{file+}: only swagger-ui-dist's allow-listed files. */
export const asset = route(async (event): Promise<APIGatewayProxyResult> => {
  const name = event.pathParameters?.file ?? "";
  const found = readSwaggerUiAsset(name);
  if (!found) throw new NotFoundError(`no documentation asset ${name}`);
  const text = isTextAsset(found.contentType);
  return {
    statusCode: 200,
    headers: { "Content-Type": found.contentType, "Cache-Control": "public, max-age=3600" },
    body: found.body.toString(text ? "utf8" : "base64"),
    isBase64Encoded: !text,
  };
});

import type { APIGatewayProxyResult } from "aws-lambda";
import { openApiDocument } from "../lib/docs/openapi.js";
import { isTextAsset, readSwaggerUiAsset, swaggerUiCsp, swaggerUiPage } from "../lib/docs/swagger-ui.js";
import { NotFoundError } from "../lib/errors.js";
import { basePath } from "../lib/http/base-path.js";
import { jsonResponse, route } from "../lib/http/handler.js";

/** GET /openapi.json */
export const openapi = route(async (event) => jsonResponse(200, openApiDocument(basePath(event) || "/")));

/**
 * GET /docs: Swagger UI. Its URLs are absolute paths under the base path, so the page works at /docs,
 * at /docs/ (serverless-offline strips the slash before the handler sees it) and at /{stage}/docs.
 * The page is public and never carries the API key, not even locally: "Try it out" works once the user
 * entered it under Authorize (`npm start` prints it in its terminal).
 */
export const page = route(async (event) => {
  const base = basePath(event);
  const options = { specUrl: `${base}/openapi.json`, assetBase: `${base}/docs/` };
  return {
    statusCode: 200,
    headers: {
      "Content-Type": "text/html; charset=utf-8",
      "Cache-Control": "no-cache",
      "Content-Security-Policy": swaggerUiCsp(options),
      "X-Content-Type-Options": "nosniff",
    },
    body: swaggerUiPage(options),
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
    headers: { "Content-Type": found.contentType, "Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff" },
    body: found.body.toString(text ? "utf8" : "base64"),
    isBase64Encoded: !text,
  };
});

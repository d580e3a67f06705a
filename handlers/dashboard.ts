import type { APIGatewayProxyResult } from "aws-lambda";
import { DASHBOARD_CSP, dashboardPage, readDashboardAsset } from "../lib/dashboard/assets.js";
import { NotFoundError } from "../lib/errors.js";
import { basePath } from "../lib/http/base-path.js";
import { route } from "../lib/http/handler.js";

const headers = (contentType: string) => ({
  "Content-Type": contentType,
  "Cache-Control": "no-cache",
  "Content-Security-Policy": DASHBOARD_CSP,
  "X-Content-Type-Options": "nosniff",
});

/** GET /: the pipeline dashboard (public; it asks for the API key and reads the private routes with it). */
export const page = route(
  async (event): Promise<APIGatewayProxyResult> => ({
    statusCode: 200,
    headers: headers("text/html; charset=utf-8"),
    body: dashboardPage(basePath(event)),
  }),
);

/** GET /dashboard/{file}: the dashboard's bundled script and style only. */
export const asset = route(async (event): Promise<APIGatewayProxyResult> => {
  const name = event.pathParameters?.file ?? "";
  const found = readDashboardAsset(name);
  if (!found) throw new NotFoundError(`no dashboard asset ${name} (is the dashboard built? npm run build:dashboard)`);
  return { statusCode: 200, headers: headers(found.contentType), body: found.body };
});

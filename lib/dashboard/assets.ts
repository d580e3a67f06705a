import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * The dashboard's browser code, bundled by the project's own build (web/dashboard/build.cjs: esbuild,
 * Preact and Chart.js, nothing from a CDN) into dist/dashboard/. Built before `serverless offline start`
 * and before packaging (plugins/dashboard-build.cjs), never committed. Found at run time like Swagger UI's
 * files (lib/docs/swagger-ui.ts): the service root is the working directory under serverless-offline and
 * in tests; in a deployed Lambda it is /var/task, where serverless.yml's package.patterns put the files.
 */
const BUILD_DIR = join("dist", "dashboard");

/** The only files GET /dashboard/{file} serves; anything else is 404, so no path ever reaches the file system. */
export const DASHBOARD_ASSETS: Readonly<Record<string, string>> = {
  "dashboard.js": "text/javascript; charset=utf-8",
  "dashboard.css": "text/css; charset=utf-8",
};

function moduleDir(): string | undefined {
  // ESM (tsx, vitest) has import.meta.dirname; the CommonJS bundle esbuild writes has __dirname.
  if (typeof __dirname === "string") return __dirname;
  return import.meta.dirname;
}

/** Where the built files are, or undefined when the dashboard was not built (`npm run build:dashboard`). */
export function dashboardAssetDir(): string | undefined {
  const here = moduleDir();
  const candidates = [
    resolve(process.cwd(), BUILD_DIR),
    // handlers/dashboard.cjs inside a package or .esbuild/.build: the package root is one or two levels up.
    ...(here ? [resolve(here, "..", BUILD_DIR), resolve(here, "..", "..", BUILD_DIR)] : []),
  ];
  return candidates.find((dir) => existsSync(join(dir, "dashboard.js")));
}

export interface DashboardAsset {
  contentType: string;
  body: string;
}

/**
 * One allow-listed asset, read on every request (a few hundred KB from the page cache; the browser revalidates
 * and a rebuild shows at the next reload); undefined for any other name or when the dashboard is not built.
 */
export function readDashboardAsset(name: string): DashboardAsset | undefined {
  const contentType = Object.hasOwn(DASHBOARD_ASSETS, name) ? DASHBOARD_ASSETS[name] : undefined;
  const dir = dashboardAssetDir();
  if (!contentType || !dir) return undefined;
  return { contentType, body: readFileSync(join(dir, name), "utf8") };
}

function attribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

/**
 * Only this server: the page loads its script and style from here and talks to this API; nothing inline
 * runs. (Chart.js and Preact set element styles through the CSSOM, which style-src does not restrict.)
 */
export const DASHBOARD_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The HTML of GET /. It carries no credentials and no data: the script asks for the API key (kept in this
 * tab's sessionStorage) and reads the pipeline through the API like any client. `base` is the API's base path
 * ("" under serverless-offline, "/{stage}" behind API Gateway).
 */
export function dashboardPage(base: string): string {
  const at = attribute(base);
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>txlog pipeline</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="${at}/dashboard/dashboard.css">
</head>
<body>
  <div id="app" data-base="${at}">
    <noscript>The dashboard needs JavaScript.</noscript>
  </div>
  <script src="${at}/dashboard/dashboard.js"></script>
</body>
</html>
`;
}

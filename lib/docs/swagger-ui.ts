import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

/**
 * Swagger UI served by the project from the swagger-ui-dist package (no CDN: our machines have no
 * internet). serverless-esbuild bundles the handler into .esbuild/.build/, so the package's own
 * `getAbsoluteFSPath()` (__dirname-based) would point into the bundle; instead the directory is looked
 * up at run time: under `serverless offline start` and in tests the working directory is the service
 * root; in a deployed Lambda it is /var/task, where serverless.yml's package.patterns put the files.
 */
const PACKAGE_DIR = join("node_modules", "swagger-ui-dist");

/** The only files GET /docs/{file} serves; anything else is 404, so no path ever reaches the file system. */
export const SWAGGER_UI_ASSETS: Readonly<Record<string, string>> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

function moduleDir(): string | undefined {
  // ESM (tsx, vitest) has import.meta.dirname; the CommonJS bundle esbuild writes has __dirname.
  if (typeof __dirname === "string") return __dirname;
  return import.meta.dirname;
}

let assetDir: string | undefined;

export function swaggerUiAssetDir(): string {
  if (assetDir) return assetDir;
  const here = moduleDir();
  const candidates = [
    resolve(process.cwd(), PACKAGE_DIR),
    // handlers/docs.js inside a package or .esbuild/.build: the package root is one level up.
    ...(here ? [resolve(here, "..", PACKAGE_DIR), resolve(here, "..", "..", PACKAGE_DIR)] : []),
  ];
  const found = candidates.find((dir) => existsSync(join(dir, "swagger-ui-bundle.js")));
  if (!found) throw new Error(`swagger-ui-dist assets not found; looked in ${candidates.join(", ")}`);
  assetDir = found;
  return found;
}

export interface SwaggerUiAsset {
  contentType: string;
  body: Buffer;
}

const assetCache = new Map<string, SwaggerUiAsset>();

/** One allow-listed asset, read once per container; undefined for any other name. */
export function readSwaggerUiAsset(name: string): SwaggerUiAsset | undefined {
  const contentType = Object.hasOwn(SWAGGER_UI_ASSETS, name) ? SWAGGER_UI_ASSETS[name] : undefined;
  if (!contentType) return undefined;
  let asset = assetCache.get(name);
  if (!asset) {
    asset = { contentType, body: readFileSync(join(swaggerUiAssetDir(), name)) };
    assetCache.set(name, asset);
  }
  return asset;
}

export function isTextAsset(contentType: string): boolean {
  return contentType.startsWith("text/");
}

/** A value embedded in an inline <script>: JSON with "<" escaped so it can never close the tag. */
function scriptLiteral(value: unknown): string {
  return JSON.stringify(value).replaceAll("<", "\\u003c");
}

function attribute(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll('"', "&quot;").replaceAll("<", "&lt;");
}

export interface SwaggerUiPageOptions {
  /** The document's URL ("/openapi.json", "/dev/openapi.json" behind API Gateway). */
  specUrl: string;
  /** Where the assets are served, ending in "/" ("/docs/"). */
  assetBase: string;
}

/** The page's one inline script: Swagger UI's start, with the page's settings. */
function initScript(options: SwaggerUiPageOptions): string {
  const settings = {
    url: options.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    displayRequestDuration: true,
    // Off: the badge would load an image from validator.swagger.io, which the policy below does not allow.
    validatorUrl: null,
  };
  return `
    window.ui = SwaggerUIBundle(Object.assign(${scriptLiteral(settings)}, {
      presets: [SwaggerUIBundle.presets.apis],
      layout: "BaseLayout",
    }));
  `;
}

/**
 * GET /docs's Content-Security-Policy: only this API's own files, and of inline scripts only the page's own
 * (by its hash), so a script injected into the page does not run. Swagger UI sets styles through the DOM,
 * which style-src does not restrict; its CSS inlines images as data: URIs.
 */
export function swaggerUiCsp(options: SwaggerUiPageOptions): string {
  const hash = createHash("sha256").update(initScript(options)).digest("base64");
  return [
    "default-src 'none'",
    `script-src 'self' 'sha256-${hash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join("; ");
}

/**
 * The HTML of GET /docs; everything it loads comes from this API. It carries no credentials: the page
 * is public, and the user enters the API key under "Authorize" (persistAuthorization keeps it in this
 * browser's localStorage across reloads; Logout in the same dialog forgets it).
 */
export function swaggerUiPage(options: SwaggerUiPageOptions): string {
  const assets = attribute(options.assetBase);
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>txlog API</title>
  <link rel="stylesheet" href="${assets}swagger-ui.css">
  <link rel="icon" type="image/png" href="${assets}favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="${assets}favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${assets}swagger-ui-bundle.js"></script>
  <script>${initScript(options)}</script>
</body>
</html>
`;
}

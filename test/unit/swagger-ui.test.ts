import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { readSwaggerUiAsset, SWAGGER_UI_ASSETS, swaggerUiPage } from "../../lib/docs/swagger-ui.js";

describe("Swagger UI page", () => {
  it("loads the document and the assets from the given paths only", () => {
    const html = swaggerUiPage({ specUrl: "/dev/openapi.json", assetBase: "/dev/docs/" });
    expect(html).toContain('<script src="/dev/docs/swagger-ui-bundle.js"></script>');
    expect(html).toContain('<link rel="stylesheet" href="/dev/docs/swagger-ui.css">');
    expect(html).toContain('"url":"/dev/openapi.json"');
    expect(html).toContain('"persistAuthorization":true');
  });

  it("carries no credentials: the key is entered under Authorize, never pre-filled", () => {
    const html = swaggerUiPage({ specUrl: "/openapi.json", assetBase: "/docs/" });
    expect(html).not.toMatch(/apiKey|preauthorize|x-api-key/i);
  });

  it("no value can close the script tag or an attribute", () => {
    const html = swaggerUiPage({ specUrl: "/</script><script>alert(1)</script>", assetBase: '/x"><script>/docs/' });
    expect(html).toContain('"url":"/\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"');
    expect(html).toContain('href="/x&quot;>&lt;script>/docs/swagger-ui.css"');
    expect(html.match(/<script/g)).toHaveLength(2);
  });
});

describe("Swagger UI assets", () => {
  it("reads each allow-listed file from swagger-ui-dist", () => {
    for (const name of Object.keys(SWAGGER_UI_ASSETS)) {
      const asset = readSwaggerUiAsset(name);
      expect(asset?.body.equals(readFileSync(resolve("node_modules/swagger-ui-dist", name)))).toBe(true);
    }
  });

  it.each(["index.html", "../package.json", "../../package.json", "/etc/passwd", "", "constructor", "__proto__"])(
    "refuses %j",
    (name) => {
      expect(readSwaggerUiAsset(name)).toBeUndefined();
    },
  );
});

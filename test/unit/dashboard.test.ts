import { describe, expect, it } from "vitest";
import { DASHBOARD_ASSETS, DASHBOARD_CSP, dashboardPage, readDashboardAsset } from "../../lib/dashboard/assets.js";
import { basePath } from "../../lib/http/base-path.js";

describe("the dashboard page (GET /)", () => {
  it("loads its script and style from the API's base path, inline nothing, and carries no key", () => {
    const page = dashboardPage("/prod");
    expect(page).toContain('<script src="/prod/dashboard/dashboard.js"></script>');
    expect(page).toContain('<link rel="stylesheet" href="/prod/dashboard/dashboard.css">');
    expect(page).toContain('data-base="/prod"');
    expect(page).not.toMatch(/<script>|<style>|x-api-key|txlog-local-development-key/);
    expect(page).not.toMatch(/https?:\/\//);
  });

  it("escapes the base path into its attributes", () => {
    expect(dashboardPage('/a"><script>')).toContain('data-base="/a&quot;>&lt;script>"');
  });

  it("is confined by its Content-Security-Policy to this server", () => {
    expect(DASHBOARD_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).toContain("connect-src 'self'");
    expect(DASHBOARD_CSP).not.toContain("unsafe");
  });

  it("serves only its allow-listed files", () => {
    expect(Object.keys(DASHBOARD_ASSETS).sort()).toEqual(["dashboard.css", "dashboard.js"]);
    for (const name of ["../package.json", "dashboard.js.map", "", "constructor", "__proto__"]) {
      expect(readDashboardAsset(name)).toBeUndefined();
    }
  });

  it("finds its base path as the client sees it", () => {
    expect(basePath({ path: "/", requestContext: { path: "/dev/" } })).toBe("/dev");
    expect(basePath({ path: "/" })).toBe("");
    expect(basePath({ path: "/", requestContext: { path: "/" } })).toBe("");
  });
});

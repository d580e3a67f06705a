import { describe, expect, it } from "vitest";
import { hostNameOf, isAllowedHost, isAllowedOrigin } from "../../plugins/offline-guard/guard.js";
import { InfraSettingsError, loadInfraSettings } from "../../scripts/infra/settings.js";

describe("offline-guard Host check", () => {
  it("answers loopback names, *.localhost, IP addresses and the allowlist, with any port", () => {
    for (const host of [
      "localhost:3000",
      "LOCALHOST",
      "127.0.0.1:3000",
      "[::1]:3000",
      "app.localhost:3000",
      "192.168.1.20:3000",
      "txlog.test:3000",
    ]) {
      expect(isAllowedHost(host, ["txlog.test"]), host).toBe(true);
    }
  });

  it("refuses other names, look-alikes and what is not a plain host[:port]", () => {
    for (const host of [
      undefined,
      "",
      "evil.example",
      "localhost.evil.example:3000",
      "evil.example/localhost",
      "user@localhost",
      "txlog.test.evil:3000",
    ]) {
      expect(isAllowedHost(host, ["txlog.test"]), String(host)).toBe(false);
    }
    expect(hostNameOf("LocalHost.:3000")).toBe("localhost");
  });
});

describe("offline-guard Origin check", () => {
  const host = "127.0.0.1:3000";
  it("allows the server's own pages under any loopback name at its port, and the allowlist", () => {
    expect(isAllowedOrigin("http://127.0.0.1:3000", host, "http", [])).toBe(true);
    expect(isAllowedOrigin("http://localhost:3000", host, "http", [])).toBe(true);
    expect(isAllowedOrigin("http://[::1]:3000", host, "http", [])).toBe(true);
    expect(isAllowedOrigin("http://localhost:5173", host, "http", ["http://localhost:5173"])).toBe(true);
  });

  it("refuses other origins, other ports, other schemes and null", () => {
    for (const origin of [
      "https://evil.example",
      "http://localhost:5173",
      "https://127.0.0.1:3000",
      "null",
      "http://192.168.1.20:3000",
    ]) {
      expect(isAllowedOrigin(origin, host, "http", []), origin).toBe(false);
    }
  });
});

describe("CORS_ALLOWED_ORIGINS and HTTP_ALLOWED_HOSTS", () => {
  it("are comma-separated lists, validated once", () => {
    const settings = loadInfraSettings({
      CORS_ALLOWED_ORIGINS: "http://localhost:5173, https://app.example",
      HTTP_ALLOWED_HOSTS: "txlog.test",
    });
    expect(settings.CORS_ALLOWED_ORIGINS).toEqual(["http://localhost:5173", "https://app.example"]);
    expect(settings.HTTP_ALLOWED_HOSTS).toEqual(["txlog.test"]);
    expect(loadInfraSettings({}).CORS_ALLOWED_ORIGINS).toEqual([]);
  });

  it("refuse a wildcard, a path or a port in a host name", () => {
    for (const env of [
      { CORS_ALLOWED_ORIGINS: "*" },
      { CORS_ALLOWED_ORIGINS: "http://localhost:5173/" },
      { CORS_ALLOWED_ORIGINS: "localhost:5173" },
      { HTTP_ALLOWED_HOSTS: "txlog.test:3000" },
    ]) {
      expect(() => loadInfraSettings(env), JSON.stringify(env)).toThrow(InfraSettingsError);
    }
  });
});

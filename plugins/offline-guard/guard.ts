// What serverless-offline's HTTP server lacks for a server any web page on the developer's machine can reach:
// a Host check (DNS rebinding), no CORS grant to foreign origins, and a body limit enforced while the body
// arrives. Installed as hapi extensions on serverless-offline's own server (plugin.cjs).
import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { HostNotAllowedError, OriginNotAllowedError, PayloadTooLargeError } from "../../lib/http/errors.js";
import { problemOf, problemResponse } from "../../lib/http/problem.js";

export interface GuardOptions {
  /** Host names answered besides localhost, *.localhost and IP addresses (HTTP_HOST, HTTP_ALLOWED_HOSTS). */
  allowedHosts: string[];
  /** Origins other than the server's own granted CORS (CORS_ALLOWED_ORIGINS). */
  allowedOrigins: string[];
  /** The largest body of a route (serverless.yml's method and path; "*" and the path for unknown ones). */
  maxBodyBytes(method: string, path: string): number;
}

/** The host name of a Host header (no port, no IPv6 brackets, lower case), or undefined when it is not one. */
export function hostNameOf(host: string): string | undefined {
  try {
    const url = new URL(`http://${host}`);
    // Anything the URL parser had to rewrite (userinfo, a path, hex IPv4) is not a plain host[:port].
    if (url.host !== host.toLowerCase().replace(/:80$/, "")) return undefined;
    return url.hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  } catch {
    return undefined;
  }
}

/**
 * Whether the server answers a request naming `host`. A DNS-rebinding page reaches 127.0.0.1 under its own
 * domain, which its requests carry in Host; localhost, *.localhost (browsers resolve them to loopback
 * themselves) and IP addresses cannot be rebound. What Vite and webpack-dev-server allow by default.
 */
export function isAllowedHost(host: string | undefined, allowedHosts: readonly string[]): boolean {
  const name = host === undefined ? undefined : hostNameOf(host);
  if (!name) return false;
  return name === "localhost" || name.endsWith(".localhost") || isIP(name) !== 0 || allowedHosts.includes(name);
}

/** Loopback names: a page on one of them at the server's port is the server's own page. */
const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

const portOf = (url: URL) => url.port || (url.protocol === "https:" ? "443" : "80");

/**
 * Whether a browser request from `origin` may be served (and granted CORS): a page of this server (its
 * Host, or a loopback name at the same port: the dashboard opened as localhost calling 127.0.0.1) or an
 * origin on the allowlist. Anything else, "null" (sandboxed frames, file://) included, is refused.
 */
export function isAllowedOrigin(origin: string, host: string, scheme: string, allowedOrigins: readonly string[]): boolean {
  if (allowedOrigins.includes(origin)) return true;
  let from: URL;
  let to: URL;
  try {
    from = new URL(origin);
    to = new URL(`${scheme}://${host}`);
  } catch {
    return false;
  }
  if (from.protocol !== to.protocol) return false;
  if (from.host === to.host) return true;
  return LOOPBACK_NAMES.has(from.hostname.replace(/^\[(.*)\]$/, "$1")) && portOf(from) === portOf(to);
}

type BodyRead = { payload: Buffer } | { tooLarge: true } | { aborted: true };

/**
 * Reads a body of at most `limit` bytes. Past the limit it stops keeping what arrives and resolves at once,
 * so a 413 goes out while the client is still sending.
 */
function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (result: BodyRead) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAborted);
      req.off("close", onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) settle({ tooLarge: true });
      else chunks.push(chunk);
    };
    const onEnd = () => settle({ payload: Buffer.concat(chunks, size) });
    const onAborted = () => settle({ aborted: true });
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAborted);
    req.on("close", onAborted);
  });
}

/** The parts of hapi's request and toolkit used here (hapi is serverless-offline's dependency, not ours). */
interface HapiResponse {
  statusCode: number;
  headers: Record<string, unknown>;
  code(status: number): HapiResponse;
  header(name: string, value: string): HapiResponse;
  type(mime: string): HapiResponse;
  takeover(): HapiResponse;
}
interface HapiRequest {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  raw: { req: IncomingMessage; res: ServerResponse };
  payload: unknown;
  app: Record<string, unknown>;
  response:
    | (HapiResponse & { isBoom?: false })
    | { isBoom: true; output: { statusCode: number; headers: Record<string, unknown> } };
  server: { match(method: string, path: string): { method: string; path: string } | null; info: { protocol: string } };
}
interface HapiToolkit {
  continue: symbol;
  close: symbol;
  response(body: string): HapiResponse;
}
export interface HapiServer {
  ext(event: "onRequest" | "onPreResponse", method: (request: HapiRequest, h: HapiToolkit) => unknown): void;
}

/** Where a refusal's status is kept: serverless-offline's own onPreResponse turns every OPTIONS answer into a 200. */
const REFUSED = "txlogRefusedStatus";

/** How long a refused request's remaining body is read and dropped before its connection is closed. */
const LINGER_MS = 5_000;

/**
 * hapi answers a request whose body it did not read with Connection: close, and Node closes the socket as
 * soon as the answer is flushed. Closing with unread data resets the connection, and a client still sending
 * its body then loses the answer. As nginx's lingering close does: end our side, keep reading and dropping
 * what arrives until the client closes or LINGER_MS pass. Nothing of it is kept.
 */
function lingerAfterAnswer(req: IncomingMessage): void {
  const { socket } = req;
  req.on("data", () => {});
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  socket.once("end", () => socket.destroy());
}

function refuse(request: HapiRequest, h: HapiToolkit, error: Error) {
  const { req } = request.raw;
  if (!req.complete && (req.headers["content-length"] !== undefined || req.headers["transfer-encoding"] !== undefined)) {
    lingerAfterAnswer(req);
  }
  const { statusCode, headers, body } = problemResponse(problemOf(error));
  request.app[REFUSED] = statusCode;
  const response = h.response(body).code(statusCode);
  for (const [name, value] of Object.entries(headers ?? {})) response.header(name, String(value));
  return response.takeover();
}

/** Adds the Host and Origin checks and the body limit (onRequest) and strips foreign CORS grants (onPreResponse). */
export function guardHttpServer(server: HapiServer, options: GuardOptions): void {
  const allowedHosts = options.allowedHosts.map((host) => host.toLowerCase());

  server.ext("onRequest", async (request, h) => {
    const { host, origin } = request.headers;
    if (!isAllowedHost(host, allowedHosts)) return refuse(request, h, new HostNotAllowedError(host));
    const scheme = request.server.info.protocol;
    if (origin !== undefined && !isAllowedOrigin(origin, host as string, scheme, options.allowedOrigins)) {
      return refuse(request, h, new OriginNotAllowedError(origin));
    }

    const { req } = request.raw;
    const declared = req.headers["content-length"];
    if (declared === undefined && req.headers["transfer-encoding"] === undefined) return h.continue;
    // hapi's route lookup comes after onRequest; server.match finds the route the request will take.
    const route = request.server.match(request.method, request.path);
    const limit = options.maxBodyBytes(route?.method ?? request.method, route?.path ?? request.path);
    if (declared !== undefined && Number(declared) > limit) {
      return refuse(request, h, new PayloadTooLargeError(Number(declared), limit));
    }
    if (declared === "0") return h.continue;
    // hapi answers Expect: 100-continue only when it reads the payload itself, which it now will not.
    if (req.headers.expect?.toLowerCase() === "100-continue") request.raw.res.writeContinue();
    const read = await readBody(req, limit);
    if ("aborted" in read) return h.close;
    if ("tooLarge" in read) return refuse(request, h, new PayloadTooLargeError(undefined, limit));
    // hapi skips its own payload reading for a request whose payload onRequest set (hapi 19+): the body is
    // what serverless-offline's handler gets, as with its route option parse: false.
    request.payload = read.payload;
    return h.continue;
  });

  server.ext("onPreResponse", (request, h) => {
    const { origin, host } = request.headers;
    if (origin === undefined) return h.continue;
    const response = request.response;
    const headers = response.isBoom ? response.output.headers : response.headers;
    const refused = request.app[REFUSED];
    if (typeof refused === "number") {
      if (response.isBoom) response.output.statusCode = refused;
      else response.statusCode = refused;
    }
    // serverless-offline grants every origin, with credentials, on every answer (its own onPreResponse, which
    // runs before this one). Keep a grant only for an allowed origin, without credentials: the API uses none.
    const allowed = host !== undefined && isAllowedOrigin(origin, host, request.server.info.protocol, options.allowedOrigins);
    for (const name of Object.keys(headers)) {
      const lower = name.toLowerCase();
      if (lower === "access-control-allow-credentials" || (!allowed && lower.startsWith("access-control-"))) {
        delete headers[name];
      }
    }
    return h.continue;
  });
}

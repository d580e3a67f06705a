import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import type { BatchInvoker } from "./poller-options.js";

const SOURCE_EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts"];

export class HandlerNotFoundError extends Error {
  override name = "HandlerNotFoundError";
}

/** "handlers/consume.handler" -> { modulePath: "handlers/consume", exportName: "handler" }, as Lambda splits it. */
export function splitHandler(handler: string): { modulePath: string; exportName: string } {
  const dot = handler.lastIndexOf(".");
  if (dot <= 0 || dot === handler.length - 1)
    throw new HandlerNotFoundError(`handler "${handler}" is not "<module path>.<export>"`);
  return { modulePath: handler.slice(0, dot), exportName: handler.slice(dot + 1) };
}

/** A minimal Lambda context: enough for handlers that log the request id or check the remaining time. */
function localContext(functionName: string, timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: "512",
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "offline-kafka",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/**
 * Imports a serverless.yml handler's module in this process and returns an invoker for the poller: the
 * same module `sls invoke local` and Lambda run, imported once, so its clients are reused across batches
 * as in a warm container. JavaScript (.js, .mjs, .cjs) as it is; TypeScript (.ts, .mts) needs a loader
 * registered in the process (tsx, or Node's type stripping on Node 22.18+/24).
 */
export async function loadHandler(servicePath: string, handler: string, timeoutMs = 60_000): Promise<BatchInvoker> {
  const { modulePath, exportName } = splitHandler(handler);
  const file = SOURCE_EXTENSIONS.map((extension) => resolve(servicePath, modulePath + extension)).find((candidate) =>
    existsSync(candidate),
  );
  if (!file)
    throw new HandlerNotFoundError(
      `no module for handler "${handler}" under ${servicePath} (tried ${SOURCE_EXTENSIONS.join(", ")})`,
    );
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const fn = module[exportName];
  if (typeof fn !== "function") throw new HandlerNotFoundError(`${file} has no exported function "${exportName}"`);
  return async (event) => fn(event, localContext(modulePath.split("/").pop() ?? modulePath, timeoutMs));
}

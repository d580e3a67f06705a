import type { APIGatewayProxyEvent } from "aws-lambda";

/**
 * The API's base path as the client sees it: "" under serverless-offline (no stage prefix), "/dev"
 * behind API Gateway, where requestContext.path carries the stage and event.path does not.
 */
export function basePath(event: Pick<APIGatewayProxyEvent, "path"> & { requestContext?: { path?: string } | null }): string {
  const fullPath = event.requestContext?.path ?? event.path;
  return fullPath.endsWith(event.path) ? fullPath.slice(0, fullPath.length - event.path.length) : "";
}

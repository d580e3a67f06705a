import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { DependencyUnavailableError } from "../errors.js";
import { logger } from "../logger.js";
import { problemOf, problemResponse } from "./problem.js";

const log = logger.child({ component: "http" });

/** The one error middleware: any thrown error becomes a JSON problem response (lib/http/problem.ts), logged once. */
export function problemResponder(): MiddlewareObj<APIGatewayProxyEvent, APIGatewayProxyResult> {
  return {
    name: "problemResponder",
    onError: (request) => {
      const problem = problemOf(request.error);
      const context = { method: request.event?.httpMethod, path: request.event?.path, status: problem.status };
      // A dependency's outage is logged where it is seen, once per change of state (lib/db/reads.ts), not per request.
      if (request.error instanceof DependencyUnavailableError) log.debug(context, problem.message);
      else if (problem.status >= 500) log.error({ ...context, err: request.error }, problem.message);
      else log.debug({ ...context, issues: problem.issues }, problem.message);
      request.response = problemResponse(problem);
    },
  };
}

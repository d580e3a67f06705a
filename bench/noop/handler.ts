import type { APIGatewayProxyResult } from "aws-lambda";

/**
 * The HTTP ceiling: the cheapest handler serverless-offline can run, answering like POST /transaction
 * does (202, small JSON) without parsing, validating or producing. What the real API reaches is read
 * as a share of what this reaches in the same run.
 */
export async function handler(): Promise<APIGatewayProxyResult> {
  return { statusCode: 202, headers: { "Content-Type": "application/json" }, body: '{"status":"Accepted"}' };
}

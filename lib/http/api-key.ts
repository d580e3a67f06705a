import type { APIGatewayProxyEvent } from "aws-lambda";
import { config } from "../config.js";
import { headerValue } from "./headers.js";

/** The header API Gateway reads the key from (the REST API's default apiKeySource, HEADER). */
export const API_KEY_HEADER = "x-api-key";

type ApiKeyCarrier = Partial<Pick<APIGatewayProxyEvent, "headers" | "multiValueHeaders">> & {
  requestContext?: { identity?: { apiKey?: string | null } | null } | null;
};

/**
 * The API key a request was let in with. Behind API Gateway: requestContext.identity.apiKey, the key
 * it checked. serverless-offline 13.9 checks the x-api-key header against serverless.yml's keys but puts
 * a constant in identity.apiKey ($SLS_API_KEY or "offlineContext_apiKey", src/events/http/lambda-events/
 * LambdaProxyIntegrationEvent.js), so offline (and wherever identity has none) the header is the key.
 * Undefined on a request without either (never on a private route).
 */
export function requestApiKey(event: ApiKeyCarrier, offline = config.IS_OFFLINE): string | undefined {
  const checked = event.requestContext?.identity?.apiKey;
  if (!offline && checked) return checked;
  return headerValue(event, API_KEY_HEADER);
}

import type { APIGatewayProxyEvent } from "aws-lambda";

type HeaderCarrier = Partial<Pick<APIGatewayProxyEvent, "headers" | "multiValueHeaders">>;

/** Every value of header `name` in an API Gateway (REST) event, any letter case; undefined when absent. */
export function headerValues(event: HeaderCarrier, name: string): string[] | undefined {
  const wanted = name.toLowerCase();
  for (const [key, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (key.toLowerCase() === wanted && values) return values;
  }
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted && value !== undefined) return [value];
  }
  return undefined;
}

/** The (first) value of header `name`, any letter case. */
export function headerValue(event: HeaderCarrier, name: string): string | undefined {
  return headerValues(event, name)?.[0];
}

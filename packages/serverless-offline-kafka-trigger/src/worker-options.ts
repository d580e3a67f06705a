import { type KafkaEventDefinition, normalise } from "./event-definition.js";
import { booleanOf, REPORT_BATCH_ITEM_FAILURES } from "./event-options.js";

/** The standalone worker's flags for one function's trigger; numbers as parseArgs gives them (strings) or numbers. */
export interface KafkaTriggerOptions {
  functionKey: string;
  /** serverless.yml's handler string, e.g. "handlers/consume.handler". */
  handler: string;
  topic: string;
  consumerGroupId: string;
  batchSize?: number | string;
  /** Seconds, as serverless.yml's maximumBatchingWindow. */
  maximumBatchingWindow?: number | string;
  /** TRIM_HORIZON | LATEST | AT_TIMESTAMP, or the CLI's spelling trim-horizon | latest | at-timestamp. */
  startingPosition?: string;
  /** AT_TIMESTAMP only: Unix time in seconds. */
  startingPositionTimestamp?: number | string;
  /** -1 (forever) or 0..10000. */
  maximumRetryAttempts?: number | string;
  bisectBatchOnFunctionError?: boolean | string;
  /** `kafka://<topic>`; "none" or "" for no destination (records given up on are discarded). */
  onFailureDestination?: string;
  /** -1 or 60..604800. */
  maximumRecordAgeInSeconds?: number | string;
  /** true: the function may answer with batchItemFailures (functionResponseTypes ReportBatchItemFailures). */
  reportBatchItemFailures?: boolean | string;
}

/**
 * A definition from CLI options (scripts/worker.ts) rather than serverless.yml: the same checks and
 * defaults, an `msk` event (what the consume function has on AWS) with the local placeholder ARN.
 */
export function definitionFromOptions({
  functionKey,
  handler,
  startingPosition,
  onFailureDestination,
  reportBatchItemFailures,
  ...spec
}: KafkaTriggerOptions): KafkaEventDefinition {
  const where = `function "${functionKey}", options`;
  const destination = onFailureDestination === "none" || onFailureDestination === "" ? undefined : onFailureDestination;
  const responseTypes = booleanOf(where, "reportBatchItemFailures", reportBatchItemFailures, false)
    ? [REPORT_BATCH_ITEM_FAILURES]
    : undefined;
  const options: Record<string, unknown> = {
    ...spec,
    startingPosition: startingPosition?.toUpperCase().replaceAll("-", "_"),
    onFailureDestination: destination,
    functionResponseTypes: responseTypes,
  };
  return normalise(where, functionKey, handler, "msk", options, spec.consumerGroupId);
}

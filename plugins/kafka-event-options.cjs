"use strict";
// Lambda's Kafka event source mapping options that osls's `msk` and `kafka` event schemas lack, written on
// the event under AWS's names (CloudFormation's, first letter lower-cased) and put into the template's
// AWS::Lambda::EventSourceMapping: the error handling (kafka-retry-configurations, kafka-on-failure), partial
// batch responses and the record age. Also a batching window of 0, which osls drops (`if (maximumBatchingWindow)`),
// so AWS's Kafka default of 0.5 s would apply instead. The local trigger (plugins/offline-kafka) reads the same
// options from the same events, so serverless.yml says once what both do.

/** serverless.yml name -> the schema it is checked against and how it goes into CloudFormation. */
const OPTIONS = {
  maximumRetryAttempts: {
    schema: { type: "integer", minimum: -1, maximum: 10000 },
    compile: (value) => ({ MaximumRetryAttempts: value }),
  },
  bisectBatchOnFunctionError: {
    schema: { type: "boolean" },
    compile: (value) => ({ BisectBatchOnFunctionError: value }),
  },
  maximumRecordAgeInSeconds: {
    schema: { anyOf: [{ const: -1 }, { type: "integer", minimum: 60, maximum: 604800 }] },
    compile: (value) => ({ MaximumRecordAgeInSeconds: value }),
  },
  functionResponseTypes: {
    schema: { type: "array", items: { enum: ["ReportBatchItemFailures"] }, maxItems: 1 },
    compile: (value) => ({ FunctionResponseTypes: value }),
  },
  destinationConfig: {
    schema: {
      type: "object",
      properties: {
        onFailure: {
          type: "object",
          properties: { destination: { type: "string" } },
          required: ["destination"],
          additionalProperties: false,
        },
      },
      required: ["onFailure"],
      additionalProperties: false,
    },
    compile: (value) => ({ DestinationConfig: { OnFailure: { Destination: value.onFailure.destination } } }),
  },
};

/** osls's `kafka` event has its own onFailureDestination; this adds the same spelling to `msk`. */
const MSK_ONLY = {
  onFailureDestination: {
    schema: { type: "string" },
    compile: (value) => ({ DestinationConfig: { OnFailure: { Destination: value } } }),
  },
};

function schemaOf(options) {
  return { properties: Object.fromEntries(Object.entries(options).map(([name, { schema }]) => [name, schema])) };
}

class KafkaEventOptionsPlugin {
  constructor(serverless) {
    this.serverless = serverless;
    const schema = serverless.configSchemaHandler;
    schema.defineFunctionEventProperties("aws", "msk", schemaOf({ ...OPTIONS, ...MSK_ONLY }));
    schema.defineFunctionEventProperties("aws", "kafka", schemaOf(OPTIONS));
    // Runs after osls's own msk/kafka compilers (built-in plugins' hooks come first), which create the mappings.
    this.hooks = { "package:compileEvents": () => this.compile() };
  }

  compile() {
    const service = this.serverless.service;
    const provider = this.serverless.getProvider("aws");
    const resources = service.provider.compiledCloudFormationTemplate.Resources;
    for (const functionName of service.getAllFunctions()) {
      const functionObject = service.getFunction(functionName);
      const lambdaId = provider.naming.getLambdaLogicalId(functionName);
      for (const event of functionObject.events ?? []) {
        const type = event.msk ? "msk" : event.kafka ? "kafka" : undefined;
        if (!type) continue;
        const options = event[type];
        const known = type === "msk" ? { ...OPTIONS, ...MSK_ONLY } : OPTIONS;
        const properties = {};
        for (const [name, option] of Object.entries(known)) {
          if (options[name] !== undefined) Object.assign(properties, option.compile(options[name]));
        }
        if (options.maximumBatchingWindow === 0) properties.MaximumBatchingWindowInSeconds = 0;
        if (Object.keys(properties).length === 0) continue;
        const mapping = Object.values(resources).find((resource) => this.isMappingOf(resource, lambdaId, type, options));
        if (!mapping) {
          throw new this.serverless.classes.Error(
            `kafka-event-options: no event source mapping found for function "${functionName}", ${type} topic "${options.topic}"`,
          );
        }
        Object.assign(mapping.Properties, properties);
      }
    }
  }

  /** The mapping osls compiled for this event: same function, topic and source. */
  isMappingOf(resource, lambdaId, type, options) {
    if (resource.Type !== "AWS::Lambda::EventSourceMapping") return false;
    const target = resource.Properties.FunctionName;
    const targetId = target?.["Fn::GetAtt"]?.[0] ?? target?.Ref;
    if (targetId !== lambdaId && !(typeof targetId === "string" && targetId.startsWith(lambdaId))) return false;
    if (resource.Properties.Topics?.[0] !== options.topic) return false;
    if (type === "msk") return JSON.stringify(resource.Properties.EventSourceArn) === JSON.stringify(options.arn);
    return resource.Properties.SelfManagedEventSource !== undefined;
  }
}

module.exports = KafkaEventOptionsPlugin;

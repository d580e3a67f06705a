"use strict";
// Packaging or deploying any stage but `local` needs the AWS resources it runs against, passed as
// --param="name=value" (or under params.<stage> in serverless.yml). serverless.yml's params.default holds
// placeholders (account 000000000000) so that stage `local` packages and runs offline; without this hook a
// deployed stage would silently point at them. A hook rather than a variable without a default: Serverless
// resolves params.default for every stage, and its error would not say what to pass.

const { LOCAL_STAGE, nonLocalStageHooks } = require("./stage.cjs");

/** What each stage other than local must be given, and what a value must look like. */
const REQUIRED = [
  ["mskClusterArn", "the MSK cluster's ARN", /^arn:aws[\w-]*:kafka:[\w-]+:\d{12}:cluster\/.+/],
  [
    "mskSecretArn",
    "the Secrets Manager ARN of the MSK SASL/SCRAM secret (name starting AmazonMSK_)",
    /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:AmazonMSK_.+/,
  ],
  [
    "databaseSecretArn",
    "the Secrets Manager ARN of the database user's secret",
    /^arn:aws[\w-]*:secretsmanager:[\w-]+:\d{12}:secret:.+/,
  ],
  ["subnetIds", "the functions' subnets, comma-separated", /^subnet-[0-9a-f]+(,subnet-[0-9a-f]+)*$/],
  ["securityGroupIds", "the functions' security groups, comma-separated", /^sg-[0-9a-f]+(,sg-[0-9a-f]+)*$/],
];

/** The placeholders of params.default: never a real account. */
const PLACEHOLDER = /000000000000|-0{17}\b/;

class RequireDeployParamsPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = nonLocalStageHooks(serverless, options, (stage) => this.check(stage));
  }

  /** --param values, then params.<stage> from serverless.yml. */
  given(stage) {
    const fromCli = Object.fromEntries(
      (this.options.param ?? []).map((entry) => {
        const at = entry.indexOf("=");
        return at < 0 ? [entry, ""] : [entry.slice(0, at), entry.slice(at + 1)];
      }),
    );
    const fromFile = this.serverless.configurationInput?.params?.[stage] ?? {};
    return { ...fromFile, ...fromCli };
  }

  check(stage) {
    const given = this.given(stage);
    const problems = REQUIRED.flatMap(([name, what, shape]) => {
      const value = given[name];
      if (value === undefined || value === "") return [`  --param="${name}=..."  ${what}: not given`];
      if (PLACEHOLDER.test(String(value)) || !shape.test(String(value))) {
        return [`  --param="${name}=..."  ${what}: "${value}" is not one`];
      }
      return [];
    });
    if (problems.length === 0) return;
    throw new this.serverless.classes.Error(
      `Stage "${stage}" runs on AWS and needs its resources (docs/deploy.md):\n${problems.join("\n")}\n` +
        `Only stage "${LOCAL_STAGE}" packages with serverless.yml's placeholders.`,
      "TXLOG_DEPLOY_PARAMS_REQUIRED",
    );
  }
}

module.exports = RequireDeployParamsPlugin;

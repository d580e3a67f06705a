"use strict";
// Packaging or deploying any stage but `local` needs an explicit API_KEY. serverless.yml falls back to
// the public development key so that `npm start`, the tests and `sls offline` (all stage `local`) run
// without setting anything; this hook keeps that fallback out of every other stage's template. A hook
// rather than a Serverless variable: a failed variable resolution names the variable path, not what to set.

const { LOCAL_STAGE, nonLocalStageHooks } = require("./stage.cjs");

/** That fallback: public (README, .env.example), so never a deployed stage's key. */
const DEVELOPMENT_KEY = "txlog-local-development-key";
/** API Gateway's limits for an API key value. */
const MIN_LENGTH = 20;
const MAX_LENGTH = 128;

/** Why `key` cannot be a deployed stage's API key, or undefined when it can. */
function apiKeyProblem(key) {
  if (key === undefined || key === "") return "is not set";
  if (key === DEVELOPMENT_KEY) return "is the public local development key";
  if (key.length < MIN_LENGTH || key.length > MAX_LENGTH) {
    return `must be ${MIN_LENGTH} to ${MAX_LENGTH} characters (it has ${key.length})`;
  }
  return undefined;
}

class RequireApiKeyPlugin {
  constructor(serverless, options) {
    this.serverless = serverless;
    this.options = options;
    this.hooks = nonLocalStageHooks(serverless, options, (stage) => this.check(stage));
  }

  check(stage) {
    const problem = apiKeyProblem(process.env.API_KEY);
    if (problem === undefined) return;
    throw new this.serverless.classes.Error(
      `API_KEY ${problem}. Stage "${stage}" needs its own API key: set the environment variable API_KEY ` +
        `(${MIN_LENGTH} to ${MAX_LENGTH} characters, e.g. API_KEY="$(openssl rand -hex 24)") before packaging or deploying. ` +
        `Only stage "${LOCAL_STAGE}" falls back to the public development key.`,
      "TXLOG_API_KEY_REQUIRED",
    );
  }
}

module.exports = RequireApiKeyPlugin;

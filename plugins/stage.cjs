"use strict";
// What plugins/require-deploy-params.cjs uses: a check that every stage
// but `local` must pass before it is packaged or deployed.

/** The stage that runs offline on serverless.yml's development fallbacks (the only one exempt). */
const LOCAL_STAGE = "local";

/** Plugin hooks that call `check(stage)` for any stage but local. */
function nonLocalStageHooks(serverless, options, check) {
  const checkStage = () => {
    const stage = options.stage ?? serverless.service.provider.stage;
    if (stage !== LOCAL_STAGE) check(stage);
  };
  return {
    // `sls package` and `sls deploy` (which packages first) ...
    "before:package:initialize": checkStage,
    // ... and `sls deploy --package <dir>`, which deploys a package built earlier.
    "before:deploy:deploy": checkStage,
  };
}

module.exports = { LOCAL_STAGE, nonLocalStageHooks };

/**
 * Side-effect module for the operator CLIs that run runtime code (replay invokes the consume handler,
 * dead-letters produces): import it right after infra/local-env.js, before anything that loads
 * lib/config.ts. The runtime logs a JSON line per batch at info level, which would bury the CLI's own
 * output; unless LOG_LEVEL says otherwise, only its warnings and errors are printed.
 */
process.env.LOG_LEVEL ??= "warn";

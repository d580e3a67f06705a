-- Every row stored from now on must carry its place in a hash chain (lib/db/chain.ts): an insert or update
-- without one is refused. NOT VALID: rows stored before this migration are not checked (npm run verify counts them).
ALTER TABLE "transactions" ADD CONSTRAINT "transactions_chained"
  CHECK ("chain_seq" IS NOT NULL AND "chain_hash" IS NOT NULL) NOT VALID;

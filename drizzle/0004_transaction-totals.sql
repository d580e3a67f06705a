CREATE TABLE "transaction_totals" (
	"step" integer NOT NULL,
	"type" text NOT NULL,
	"status" text NOT NULL,
	"shard" smallint NOT NULL,
	"count" bigint NOT NULL,
	"amount" numeric(38, 2) NOT NULL,
	"fraud_count" bigint NOT NULL,
	"fraud_amount" numeric(38, 2) NOT NULL,
	"flagged_fraud_count" bigint NOT NULL,
	"flagged_fraud_amount" numeric(38, 2) NOT NULL,
	CONSTRAINT "transaction_totals_step_type_status_shard_pk" PRIMARY KEY("step","type","status","shard")
);
--> statement-breakpoint
DROP INDEX "transactions_status_received_idx";--> statement-breakpoint
CREATE INDEX "transactions_completed_received_idx" ON "transactions" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "transactions"."status" = 'Completed';--> statement-breakpoint
CREATE INDEX "transactions_historical_received_idx" ON "transactions" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "transactions"."status" = 'Historical';--> statement-breakpoint
-- GET /reports/summary reads transaction_totals instead of scanning transactions. These triggers keep it
-- current in the same database transaction as the rows, whoever writes them (the consumer, the seed, SQL):
-- one statement-level upsert per INSERT statement (its transition table grouped), never one per row. Keys are
-- taken in (step, type, status, shard) order, so two statements updating the same keys wait, never deadlock;
-- shard = Kafka partition % 16 (0 for seeded rows) keeps different partitions' batches off each other's rows.
-- Deletes, updates and truncates (tests, maintenance: a transaction log only grows) are counted too.
CREATE FUNCTION "transaction_totals_track"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    TRUNCATE "transaction_totals";
    RETURN NULL;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO "transaction_totals" AS "total"
    SELECT "step", "type", "status", coalesce("kafka_partition", 0) % 16, count(*), sum("amount"),
           count(*) FILTER (WHERE "is_fraud"), coalesce(sum("amount") FILTER (WHERE "is_fraud"), 0),
           count(*) FILTER (WHERE "is_flagged_fraud"), coalesce(sum("amount") FILTER (WHERE "is_flagged_fraud"), 0)
      FROM "new_rows"
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT ("step", "type", "status", "shard") DO UPDATE SET
      "count" = "total"."count" + excluded."count",
      "amount" = "total"."amount" + excluded."amount",
      "fraud_count" = "total"."fraud_count" + excluded."fraud_count",
      "fraud_amount" = "total"."fraud_amount" + excluded."fraud_amount",
      "flagged_fraud_count" = "total"."flagged_fraud_count" + excluded."flagged_fraud_count",
      "flagged_fraud_amount" = "total"."flagged_fraud_amount" + excluded."flagged_fraud_amount";
    RETURN NULL;
  END IF;
  -- DELETE and UPDATE: take the old rows off (an UPDATE then adds its new rows), then drop emptied keys.
  WITH "removed" AS (
    SELECT "step", "type", "status", coalesce("kafka_partition", 0) % 16 AS "shard", count(*) AS "count",
           sum("amount") AS "amount", count(*) FILTER (WHERE "is_fraud") AS "fraud_count",
           coalesce(sum("amount") FILTER (WHERE "is_fraud"), 0) AS "fraud_amount",
           count(*) FILTER (WHERE "is_flagged_fraud") AS "flagged_fraud_count",
           coalesce(sum("amount") FILTER (WHERE "is_flagged_fraud"), 0) AS "flagged_fraud_amount"
      FROM "old_rows"
     GROUP BY 1, 2, 3, 4
  )
  UPDATE "transaction_totals" AS "total" SET
    "count" = "total"."count" - "removed"."count",
    "amount" = "total"."amount" - "removed"."amount",
    "fraud_count" = "total"."fraud_count" - "removed"."fraud_count",
    "fraud_amount" = "total"."fraud_amount" - "removed"."fraud_amount",
    "flagged_fraud_count" = "total"."flagged_fraud_count" - "removed"."flagged_fraud_count",
    "flagged_fraud_amount" = "total"."flagged_fraud_amount" - "removed"."flagged_fraud_amount"
  FROM "removed"
  WHERE ("total"."step", "total"."type", "total"."status", "total"."shard")
      = ("removed"."step", "removed"."type", "removed"."status", "removed"."shard");
  DELETE FROM "transaction_totals" WHERE "count" = 0;
  IF TG_OP = 'UPDATE' THEN
    INSERT INTO "transaction_totals" AS "total"
    SELECT "step", "type", "status", coalesce("kafka_partition", 0) % 16, count(*), sum("amount"),
           count(*) FILTER (WHERE "is_fraud"), coalesce(sum("amount") FILTER (WHERE "is_fraud"), 0),
           count(*) FILTER (WHERE "is_flagged_fraud"), coalesce(sum("amount") FILTER (WHERE "is_flagged_fraud"), 0)
      FROM "new_rows"
     GROUP BY 1, 2, 3, 4
     ORDER BY 1, 2, 3, 4
    ON CONFLICT ("step", "type", "status", "shard") DO UPDATE SET
      "count" = "total"."count" + excluded."count",
      "amount" = "total"."amount" + excluded."amount",
      "fraud_count" = "total"."fraud_count" + excluded."fraud_count",
      "fraud_amount" = "total"."fraud_amount" + excluded."fraud_amount",
      "flagged_fraud_count" = "total"."flagged_fraud_count" + excluded."flagged_fraud_count",
      "flagged_fraud_amount" = "total"."flagged_fraud_amount" + excluded."flagged_fraud_amount";
  END IF;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "transaction_totals_insert" AFTER INSERT ON "transactions"
  REFERENCING NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "transaction_totals_track"();
--> statement-breakpoint
CREATE TRIGGER "transaction_totals_update" AFTER UPDATE ON "transactions"
  REFERENCING OLD TABLE AS "old_rows" NEW TABLE AS "new_rows" FOR EACH STATEMENT EXECUTE FUNCTION "transaction_totals_track"();
--> statement-breakpoint
CREATE TRIGGER "transaction_totals_delete" AFTER DELETE ON "transactions"
  REFERENCING OLD TABLE AS "old_rows" FOR EACH STATEMENT EXECUTE FUNCTION "transaction_totals_track"();
--> statement-breakpoint
CREATE TRIGGER "transaction_totals_truncate" AFTER TRUNCATE ON "transactions"
  FOR EACH STATEMENT EXECUTE FUNCTION "transaction_totals_track"();
--> statement-breakpoint
-- The rows stored before this migration. The triggers above hold a lock that keeps writers out until this
-- migration commits, so no row is counted twice or missed.
INSERT INTO "transaction_totals"
SELECT "step", "type", "status", coalesce("kafka_partition", 0) % 16, count(*), sum("amount"),
       count(*) FILTER (WHERE "is_fraud"), coalesce(sum("amount") FILTER (WHERE "is_fraud"), 0),
       count(*) FILTER (WHERE "is_flagged_fraud"), coalesce(sum("amount") FILTER (WHERE "is_flagged_fraud"), 0)
  FROM "transactions"
 GROUP BY 1, 2, 3, 4;

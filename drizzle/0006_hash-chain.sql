CREATE TABLE "chain_heads" (
	"scope" text PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "chain_scope" text GENERATED ALWAYS AS (coalesce(kafka_topic || '-' || kafka_partition, 'historical')) STORED;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "chain_seq" bigint;--> statement-breakpoint
ALTER TABLE "transactions" ADD COLUMN "chain_hash" text;--> statement-breakpoint
CREATE UNIQUE INDEX "transactions_chain_idx" ON "transactions" USING btree ("chain_scope","chain_seq");
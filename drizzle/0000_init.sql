CREATE TABLE "dead_letters" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"partition" integer NOT NULL,
	"offset" bigint NOT NULL,
	"key" text,
	"value" text,
	"reason" text NOT NULL,
	"detail" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "transactions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"step" integer NOT NULL,
	"type" text NOT NULL,
	"amount" numeric(18, 2) NOT NULL,
	"name_orig" text NOT NULL,
	"old_balance_orig" numeric(18, 2) NOT NULL,
	"new_balance_orig" numeric(18, 2) NOT NULL,
	"name_dest" text NOT NULL,
	"old_balance_dest" numeric(18, 2) NOT NULL,
	"new_balance_dest" numeric(18, 2) NOT NULL,
	"is_fraud" boolean NOT NULL,
	"is_flagged_fraud" boolean NOT NULL,
	"status" text NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"persisted_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"kafka_topic" text,
	"kafka_partition" integer,
	"kafka_offset" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "dead_letters_source_idx" ON "dead_letters" USING btree ("topic","partition","offset");--> statement-breakpoint
CREATE INDEX "transactions_received_idx" ON "transactions" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_status_received_idx" ON "transactions" USING btree ("status","received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_type_received_idx" ON "transactions" USING btree ("type","received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_name_orig_received_idx" ON "transactions" USING btree ("name_orig","received_at" DESC NULLS LAST,"id" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "transactions_fraud_received_idx" ON "transactions" USING btree ("received_at" DESC NULLS LAST,"id" DESC NULLS LAST) WHERE "transactions"."is_fraud";
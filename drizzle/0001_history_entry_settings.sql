ALTER TABLE "history" ADD COLUMN "description" text;--> statement-breakpoint
ALTER TABLE "history" ADD COLUMN "schema" jsonb;
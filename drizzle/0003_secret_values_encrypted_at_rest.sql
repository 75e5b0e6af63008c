ALTER TABLE "entries" ADD COLUMN "encrypted_value" text;--> statement-breakpoint
ALTER TABLE "history" ADD COLUMN "encrypted_value" text;--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_one_value_form" CHECK ("entries"."value" is null or "entries"."encrypted_value" is null);--> statement-breakpoint
ALTER TABLE "history" ADD CONSTRAINT "history_one_value_form" CHECK ("history"."value" is null or "history"."encrypted_value" is null);
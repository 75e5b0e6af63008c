CREATE TABLE "client_reports" (
	"namespace" text COLLATE "C" NOT NULL,
	"client_id" text NOT NULL,
	"applied_revision" bigint NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "client_reports_namespace_client_id_pk" PRIMARY KEY("namespace","client_id")
);
--> statement-breakpoint
CREATE TABLE "entries" (
	"namespace" text COLLATE "C" NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"value" jsonb,
	"version" integer NOT NULL,
	"revision" bigint NOT NULL,
	"deleted" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone NOT NULL,
	"updated_by" text,
	"description" text,
	"secret" boolean DEFAULT false NOT NULL,
	"schema" jsonb,
	CONSTRAINT "entries_namespace_key_pk" PRIMARY KEY("namespace","key")
);
--> statement-breakpoint
CREATE TABLE "history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"namespace" text COLLATE "C" NOT NULL,
	"revision" bigint NOT NULL,
	"key" text COLLATE "C" NOT NULL,
	"op" text NOT NULL,
	"version" integer NOT NULL,
	"value" jsonb,
	"secret" boolean DEFAULT false NOT NULL,
	"actor" text,
	"reason" text,
	"trace_id" text,
	"changed_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "namespaces" (
	"name" text COLLATE "C" PRIMARY KEY NOT NULL,
	"revision" bigint DEFAULT 0 NOT NULL,
	"compacted_revision" bigint DEFAULT 0 NOT NULL,
	"require_reason" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "entries" ADD CONSTRAINT "entries_namespace_namespaces_name_fk" FOREIGN KEY ("namespace") REFERENCES "public"."namespaces"("name") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "entries_namespace_revision_idx" ON "entries" USING btree ("namespace","revision");--> statement-breakpoint
CREATE INDEX "history_namespace_revision_idx" ON "history" USING btree ("namespace","revision","key");--> statement-breakpoint
CREATE UNIQUE INDEX "history_namespace_key_version_idx" ON "history" USING btree ("namespace","key","version");--> statement-breakpoint
CREATE INDEX "history_changed_at_idx" ON "history" USING btree ("changed_at");
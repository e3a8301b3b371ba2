DROP INDEX "users_account_nocase_idx";--> statement-breakpoint
CREATE UNIQUE INDEX "users_account_nocase_idx" ON "users" USING btree (lower("account" COLLATE "C"));
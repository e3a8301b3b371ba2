-- Filled in by the server's own code after the migrations (names are folded in JS, domain/fold.ts): db/name-folds.ts.
ALTER TABLE "users" ADD COLUMN "name_fold" text DEFAULT '' NOT NULL;

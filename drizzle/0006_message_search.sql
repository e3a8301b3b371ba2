-- Full-text search (src/domain/search.ts): contentless FTS5, rowid = message id; § makes the group tokens (§<gid>).
CREATE VIRTUAL TABLE `message_search` USING fts5(body, tokenize = "unicode61 remove_diacritics 2 tokenchars '§'", prefix = '2 3 4', content = '', contentless_delete = 1);
--> statement-breakpoint
-- Messages stored before this migration are indexed once, at the next start (the text needs the server's own splitting).
INSERT INTO `settings` (`key`, `value`) VALUES ('search_backfill', 'pending') ON CONFLICT (`key`) DO UPDATE SET `value` = 'pending';

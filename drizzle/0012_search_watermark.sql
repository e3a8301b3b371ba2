-- The search index is filled in batches after the messages commit (domain/search.ts indexPending): every
-- message with an id above this one is not in message_search yet. Messages stored so far already are (or
-- the search backfill, pending or not, puts them there).
INSERT INTO `settings` (`key`, `value`) VALUES ('search_indexed_upto', (SELECT coalesce(max(`id`), 0) FROM `messages`)) ON CONFLICT (`key`) DO NOTHING;

CREATE INDEX `groups_avatar_idx` ON `groups` (`avatar`);--> statement-breakpoint
CREATE INDEX `users_avatar_idx` ON `users` (`avatar`);
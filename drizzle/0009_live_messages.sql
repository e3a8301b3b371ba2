CREATE TABLE `message_mentions` (
	`uid` integer NOT NULL,
	`group_id` integer NOT NULL,
	`message_id` integer NOT NULL,
	PRIMARY KEY(`uid`, `group_id`, `message_id`),
	FOREIGN KEY (`uid`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `message_mentions_message_idx` ON `message_mentions` (`message_id`);--> statement-breakpoint
CREATE TABLE `message_reactions` (
	`message_id` integer NOT NULL,
	`emoji` text NOT NULL,
	`uid` integer NOT NULL,
	`created_at` integer NOT NULL,
	`ord` integer NOT NULL,
	PRIMARY KEY(`message_id`, `emoji`, `uid`),
	FOREIGN KEY (`message_id`) REFERENCES `messages`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`uid`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `group_events` ADD `client_msg_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `group_events_actor_client_idx` ON `group_events` (`actor_uid`,`client_msg_id`);--> statement-breakpoint
ALTER TABLE `messages` ADD `reply_to` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `mentions` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `reactions` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `edited_at` integer;--> statement-breakpoint
ALTER TABLE `messages` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `last_seen_at` integer;
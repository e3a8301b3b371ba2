CREATE TABLE `departures` (
	`user_id` integer NOT NULL,
	`group_id` integer NOT NULL,
	`event_id` integer NOT NULL,
	PRIMARY KEY(`user_id`, `group_id`),
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `departures_user_event_idx` ON `departures` (`user_id`,`event_id`);--> statement-breakpoint
CREATE TABLE `group_events` (
	`id` integer PRIMARY KEY NOT NULL,
	`group_id` integer NOT NULL,
	`kind` text NOT NULL,
	`actor_uid` integer NOT NULL,
	`msg_id` integer,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`group_id`) REFERENCES `groups`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `group_events_group_idx` ON `group_events` (`group_id`,`id`);--> statement-breakpoint
CREATE TABLE `revocations` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`token_hash` text NOT NULL,
	`reason` text NOT NULL,
	`created_at` integer NOT NULL
);

CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`sha256` text NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`mime` text NOT NULL,
	`uploader_uid` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`uploader_uid`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `files_uploader_idx` ON `files` (`uploader_uid`,`size`);--> statement-breakpoint
CREATE INDEX `files_sha_idx` ON `files` (`sha256`);--> statement-breakpoint
CREATE INDEX `files_created_idx` ON `files` (`created_at`);--> statement-breakpoint
CREATE INDEX `messages_file_idx` ON `messages` (`content`) WHERE kind IN ('File', 'Image') AND length(content) = 21;
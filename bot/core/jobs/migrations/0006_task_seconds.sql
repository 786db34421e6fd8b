-- How long the job's Wiro task took, in seconds from the run call's answer to the end the bot
-- saw (Task/Detail confirming task_postprocess_end); NULL unless it succeeded in one go.
-- bot.jobs.lengths learns each model's task length from it, to poll around the expected end.

ALTER TABLE jobs ADD COLUMN task_seconds REAL;

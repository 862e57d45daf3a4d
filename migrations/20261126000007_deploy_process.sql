-- Which process runs a deploy, so the next start after a crash (kill -9 of serve leaves the
-- script running) can end it before the deploy's next run uses the same working folder.
-- "BOOT_ID PID START_TICKS": a pid alone could name a stranger after reuse or a reboot.
ALTER TABLE deploy_runs ADD COLUMN process TEXT;

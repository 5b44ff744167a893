-- 006_model_plan.sql: the time plan of a `nas run` (src/app/run-plan.ts,
-- run-budget.ts): minutes per stage planned at submission from the job's
-- budget, minutes spent, the cuts decided while it ran. NULL for rows made
-- before this migration.

ALTER TABLE models ADD COLUMN plan TEXT NULL CHECK (plan IS NULL OR json_valid(plan));

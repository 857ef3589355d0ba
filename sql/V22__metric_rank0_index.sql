-- Goodput and the hang backstop read rank 0's steps of a run; every rank reports every step, so without this a
-- long run's goodput scanned all ranks' rows on every watch tick (bench/goodput.sh).
create index run_metric_rank0_idx on run_metric (run_id, generation, step) include (step_time_ms) where rank = 0;

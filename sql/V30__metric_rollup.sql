-- Metric storage that scales (issue 19): every rank reports every step, ~8.6 M rows a day at 992 ranks and one step
-- every 10 s. Rank 0's rows (the run's figures, goodput) and every rank's recent steps stay in run_metric; older rows
-- of the other ranks are rolled up by MetricRollup into one row per run, generation and window of steps.
create table run_metric_rollup (
    run_id                uuid             not null references run (id) on delete cascade,
    generation            bigint           not null,
    -- the window's first step (a multiple of steadyrun.metric-rollup.steps-per-row) and the highest step in it
    first_step            bigint           not null,
    last_step             bigint           not null,
    -- rank rows rolled into this one, and how many of them skipped their step on gradient overflow
    samples               int              not null,
    overflows             int              not null,
    loss_min              double precision not null,
    loss_median           double precision not null,
    loss_max              double precision not null,
    grad_norm_min         double precision not null,
    grad_norm_median      double precision not null,
    grad_norm_max         double precision not null,
    loss_scale_min        double precision not null,
    loss_scale_median     double precision not null,
    loss_scale_max        double precision not null,
    lr_min                double precision not null,
    lr_median             double precision not null,
    lr_max                double precision not null,
    tokens_per_sec_min    double precision not null,
    tokens_per_sec_median double precision not null,
    tokens_per_sec_max    double precision not null,
    step_time_ms_min      double precision not null,
    step_time_ms_median   double precision not null,
    step_time_ms_max      double precision not null,
    first_at              timestamptz      not null,
    last_at               timestamptz      not null,
    primary key (run_id, generation, first_step)
);

-- Where the roll-up finds its next batch of a generation (the primary key leads with the step, across ranks and
-- generations, so rank 0's kept rows would be scanned over again on every batch). It covers only rows waiting to be
-- rolled up: each is deleted once it is.
create index run_metric_ranks_idx on run_metric (run_id, generation, step) where rank <> 0;

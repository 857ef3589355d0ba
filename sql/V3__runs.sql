-- Runs, their state history, placements per generation, step metrics and checkpoints.

create table run (
    id               uuid primary key,
    name             varchar(200),
    state            varchar(16)   not null,
    state_reason     varchar(1000),
    state_changed_at timestamptz   not null,
    -- The resolved specification (every default filled in) as JSON; the API answers from it.
    spec             text          not null,
    world_size       int           not null check (world_size > 0),
    spares           int           not null check (spares >= 0),
    -- Bumped by every placement; reports and trainers of an older generation are fenced off.
    generation       bigint        not null default 0,
    last_step        bigint,
    last_loss        double precision,
    tokens_seen      bigint        not null default 0,
    created_at       timestamptz   not null,
    created_by       varchar(200)  not null,
    constraint run_state_chk check (state in ('PENDING', 'STARTING', 'RUNNING', 'PAUSING', 'PAUSED',
        'RECOVERING', 'CANCELLING', 'CANCELLED', 'SUCCEEDED', 'FAILED'))
);
create index run_state_idx on run (state);
create index run_created_idx on run (created_at desc, id);

create table run_event (
    id         bigserial primary key,
    run_id     uuid          not null references run (id) on delete cascade,
    at         timestamptz   not null,
    from_state varchar(16),
    to_state   varchar(16)   not null,
    generation bigint        not null,
    reason     varchar(1000) not null,
    actor      varchar(200)  not null
);
create index run_event_run_idx on run_event (run_id, id);

create table placement (
    run_id      uuid        not null references run (id) on delete cascade,
    generation  bigint      not null,
    node_id     uuid        not null references node (id),
    -- null for a spare
    rank        int,
    placed_at   timestamptz not null,
    -- set once the node no longer works for this placement (its trainer stopped, or the run moved on)
    released_at timestamptz,
    primary key (run_id, generation, node_id)
);
create unique index placement_rank_uq on placement (run_id, generation, rank) where rank is not null;
-- A node works for at most one placement at a time: two orchestrator replicas can never double-place it.
create unique index placement_active_node_uq on placement (node_id) where released_at is null;

create table run_metric (
    run_id         uuid             not null references run (id) on delete cascade,
    generation     bigint           not null,
    rank           int              not null,
    step           bigint           not null,
    loss           double precision not null,
    grad_norm      double precision not null,
    loss_scale     double precision not null,
    overflow       boolean          not null,
    lr             double precision not null,
    tokens_per_sec double precision not null,
    step_time_ms   double precision not null,
    at             timestamptz      not null,
    -- an agent that retries a report sends the same steps again
    primary key (run_id, step, rank, generation)
);

create table checkpoint (
    id            bigserial primary key,
    run_id        uuid             not null references run (id) on delete cascade,
    step          bigint           not null,
    generation    bigint           not null,
    path          varchar(4000)    not null,
    tokens_seen   bigint           not null,
    loss_scale    double precision not null,
    loss          double precision not null,
    manifest_sha  varchar(64)      not null,
    bytes         bigint           not null,
    -- OPT called a checkpoint healthy when its dynamic loss scale was at least 1.0
    healthy       boolean          not null,
    reported_at   timestamptz      not null,
    unique (run_id, step)
);

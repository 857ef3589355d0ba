-- Numbered after V20 so that a database already at V20 (alerts) migrates in order.
-- Automatic recovery (issue 9): the logbook of incidents, one record per generation (what it restored and with
-- which knobs, and why it was placed), and checkpoints a restore proved corrupt or a rollback moved aside.

create table incident (
    id                   bigserial primary key,
    run_id               uuid          not null references run (id) on delete cascade,
    kind                 varchar(32)   not null,
    cause                varchar(32)   not null,
    summary              varchar(1000) not null,
    state                varchar(16)   not null,
    detected_at          timestamptz   not null,
    -- for a lost node: its last heartbeat (detection latency = detected_at - this)
    last_heartbeat_at    timestamptz,
    -- the generation the incident happened in
    generation           bigint        not null,
    node_id              uuid          references node (id),
    node_name            varchar(253),
    rank                 int,
    onset_step           bigint,
    -- the divergence rule that fired (for "never the checkpoint that led to the same divergence twice")
    divergence_kind      varchar(32),
    evidence             jsonb         not null,
    decision             jsonb,
    consumes_budget      boolean       not null default false,
    restore_step         bigint,
    restore_path         varchar(4000),
    skipped_checkpoints  jsonb         not null default '[]',
    -- the restart waits for every old rank to stop and for this time (the decision's backoff)
    restart_after        timestamptz,
    new_generation       bigint,
    swapped_in_node_id   uuid          references node (id),
    swapped_in_node_name varchar(253),
    recovered_at         timestamptz,
    detection_latency_ms bigint,
    constraint incident_state_chk check (state in ('OPEN', 'RECOVERING', 'RECOVERED', 'NEEDS_HUMAN', 'STOPPED'))
);
create index incident_run_idx on incident (run_id, id desc);
create index incident_node_idx on incident (node_id, id desc);
create index incident_swapped_idx on incident (swapped_in_node_id, id desc);

-- One row per generation of a run: the scheduling pass and a recovery restart both write it when they place.
create table run_generation (
    run_id            uuid        not null references run (id) on delete cascade,
    generation        bigint      not null,
    restore_step      bigint,
    restore_path      varchar(4000),
    knobs             jsonb       not null,
    cause_incident_id bigint      references incident (id),
    placed_at         timestamptz not null,
    -- the first step any rank of this generation reported
    first_step_at     timestamptz,
    primary key (run_id, generation)
);

alter table checkpoint add column corrupt boolean not null default false;
alter table checkpoint add column abandoned boolean not null default false;
-- deleted by the trainer's retention (it says so in a later checkpoint's line): never a restore point again
alter table checkpoint add column removed boolean not null default false;

-- Runs placed before this migration: their current generation restores what the placement used to choose then
-- (the newest healthy checkpoint, else the newest), so a relaunch does not start from scratch.
insert into run_generation (run_id, generation, restore_step, restore_path, knobs, placed_at)
select r.id, r.generation, c.step, c.path, '{}'::jsonb, r.state_changed_at
from run r
left join lateral (select step, path from checkpoint where run_id = r.id
                   order by healthy desc, step desc limit 1) c on true
where r.generation > 0;

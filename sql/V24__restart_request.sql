-- Restart requests (architecture issue): recovery decides a restart and writes what the next generation must be
-- (checkpoint and the rule it was picked by, knobs, nodes to replace, earliest start); the scheduling pass's restart
-- placer carries it out. One unplaced request per run: a later decision for the same run supersedes it.
create table restart_request (
    id                bigserial primary key,
    run_id            uuid        not null references run (id) on delete cascade,
    -- the incident whose decision this carries out (the newest, when several joined one restart)
    incident_id       bigint      not null references incident (id) on delete cascade,
    -- the generation being replaced: a request for an older one is stale
    from_generation   bigint      not null,
    restore_step      bigint,
    restore_path      varchar(4000),
    restore_rule      jsonb       not null,
    knobs             jsonb       not null,
    replace_nodes     uuid[]      not null default '{}',
    not_before        timestamptz,
    requested_at      timestamptz not null,
    waiting           text,
    placed_generation bigint,
    placed_at         timestamptz
);
create unique index restart_request_unplaced_idx on restart_request (run_id) where placed_generation is null;

-- Restarts under way when this migration runs: their pending incident becomes the request.
insert into restart_request (run_id, incident_id, from_generation, restore_step, restore_path, restore_rule, knobs,
                             replace_nodes, not_before, requested_at)
select i.run_id, i.id, i.generation, i.restore_step, i.restore_path,
       case when i.kind = 'DIVERGENCE'
            then jsonb_build_object('mode', 'BEFORE_DIVERGENCE', 'onsetStep', i.onset_step,
                                    'divergenceKind', i.divergence_kind)
            else jsonb_build_object('mode', 'LATEST_USABLE') end,
       coalesce(i.decision -> 'knobs', '{}'::jsonb),
       coalesce((select array_agg(j.node_id) from incident j
                 where j.run_id = i.run_id and j.state = 'RECOVERING' and j.new_generation is null
                   and j.node_id is not null
                   and j.kind in ('NODE_LOST', 'GPU_FAULT', 'STRAGGLER', 'NODE_SWAP')), '{}'),
       i.restart_after, i.detected_at
from incident i join run r on r.id = i.run_id
where r.state = 'RECOVERING' and i.state = 'RECOVERING' and i.new_generation is null
  and i.id = (select max(k.id) from incident k
              where k.run_id = i.run_id and k.state = 'RECOVERING' and k.new_generation is null);

-- One orchestrator per database runs Quartz in memory: the clustered JDBC job store's tables go.
drop table if exists qrtz_fired_triggers, qrtz_paused_trigger_grps, qrtz_scheduler_state, qrtz_locks,
    qrtz_simple_triggers, qrtz_cron_triggers, qrtz_simprop_triggers, qrtz_blob_triggers, qrtz_triggers,
    qrtz_job_details, qrtz_calendars cascade;

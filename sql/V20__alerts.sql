-- Alerting webhooks: subscriptions, the transactional outbox of events, one delivery per (event, subscription)
-- and a log of every delivery attempt. See docs/alerts.md.

create table webhook_subscription (
    id                uuid primary key,
    name              varchar(200)  not null,
    url               varchar(2000) not null,
    -- wire names such as 'node.failed'; checked by the API against the event type list
    event_types       text[]        not null,
    format            varchar(16)   not null,
    -- AES-GCM (nonce || ciphertext) of the signing secret under steadyrun.alerts.secret-key: the dispatcher needs
    -- the plaintext to sign, the API never returns it after creation.
    secret_ciphertext bytea         not null,
    created_at        timestamptz   not null,
    created_by        varchar(200)  not null,
    -- set when the receiver answered 410 Gone: no more events are fanned out to it
    disabled_at       timestamptz,
    disabled_reason   varchar(1000),
    constraint webhook_subscription_format_chk check (format in ('JSON', 'SLACK'))
);

-- The outbox. A row is written in the transaction of the state change that caused it: by the triggers below for
-- node and run transitions, and by AlertOutbox.publish (propagation MANDATORY) for everything else.
create table alert_event (
    id              bigserial primary key,
    -- the Standard Webhooks message id ('webhook-id'): the same on every attempt so receivers can de-duplicate
    message_id      uuid          not null unique default gen_random_uuid(),
    type            varchar(64)   not null,
    -- deliveries with the same ordering key reach a subscription in id order (the run id, or the node id)
    ordering_key    varchar(100),
    -- stamped with the orchestrator's clock (the causing event's 'at'), not the database's
    occurred_at     timestamptz   not null,
    data            jsonb         not null,
    -- a test event goes to this subscription only; null = every subscription of the type
    subscription_id uuid          references webhook_subscription (id) on delete cascade
);

create table webhook_delivery (
    id              bigserial primary key,
    event_id        bigint        not null references alert_event (id) on delete cascade,
    subscription_id uuid          not null references webhook_subscription (id) on delete cascade,
    ordering_key    varchar(100),
    state           varchar(16)   not null default 'PENDING',
    attempts        int           not null default 0,
    next_attempt_at timestamptz   not null,
    -- retries stop (dead letter) once the next attempt would fall after window_start + max age; a redelivery
    -- restarts the window
    window_start    timestamptz   not null,
    -- the claim of one dispatcher: another may take the delivery once locked_until has passed (a dead replica)
    locked_until    timestamptz,
    locked_by       uuid,
    delivered_at    timestamptz,
    last_error      varchar(1000),
    constraint webhook_delivery_state_chk check (state in ('PENDING', 'DELIVERED', 'DEAD')),
    unique (event_id, subscription_id)
);
create index webhook_delivery_due_idx on webhook_delivery (next_attempt_at, id) where state = 'PENDING';
create index webhook_delivery_chain_idx on webhook_delivery (subscription_id, ordering_key, id)
    where state = 'PENDING';
create index webhook_delivery_sub_idx on webhook_delivery (subscription_id, id desc);

create table webhook_attempt (
    id          bigserial primary key,
    delivery_id bigint        not null references webhook_delivery (id) on delete cascade,
    attempt     int           not null,
    at          timestamptz   not null,
    -- null when no HTTP status came back (refused, timed out, denied destination)
    status_code int,
    latency_ms  bigint        not null,
    error       varchar(1000)
);
create index webhook_attempt_delivery_idx on webhook_attempt (delivery_id, attempt);

-- Fan-out: every event gets one delivery per matching, enabled subscription, in the same transaction.
create function alert_event_fan_out() returns trigger language plpgsql as $$
begin
    insert into webhook_delivery (event_id, subscription_id, ordering_key, next_attempt_at, window_start)
    select new.id, s.id, new.ordering_key, new.occurred_at, new.occurred_at
    from webhook_subscription s
    where s.disabled_at is null
      and (new.subscription_id is null and new.type = any (s.event_types) or s.id = new.subscription_id);
    return new;
end $$;

create trigger alert_event_fan_out after insert on alert_event
    for each row execute function alert_event_fan_out();

-- Node transitions: the foundation code writes a node_event row in the transaction of every transition; turning
-- that row into an outbox event here guarantees no state change without its alert, without touching that code.
create function node_event_to_alert() returns trigger language plpgsql as $$
declare
    alert_type varchar(64);
begin
    alert_type := case new.to_state when 'FAILED' then 'node.failed' when 'CORDONED' then 'node.cordoned' end;
    if alert_type is not null then
        insert into alert_event (type, ordering_key, occurred_at, data)
        select alert_type, new.node_id::text, new.at,
               jsonb_build_object('nodeId', new.node_id, 'nodeName', n.name, 'hostname', n.hostname,
                                  'fromState', new.from_state, 'toState', new.to_state, 'reason', new.reason,
                                  'actor', new.actor, 'at', new.at)
        from node n where n.id = new.node_id;
    end if;
    return new;
end $$;

create trigger node_event_to_alert after insert on node_event
    for each row execute function node_event_to_alert();

-- Run transitions, likewise from run_event (every transition is one run.state_changed event).
create function run_event_to_alert() returns trigger language plpgsql as $$
begin
    insert into alert_event (type, ordering_key, occurred_at, data)
    select 'run.state_changed', new.run_id::text, new.at,
           jsonb_build_object('runId', new.run_id, 'runName', r.name, 'fromState', new.from_state,
                              'toState', new.to_state, 'generation', new.generation, 'reason', new.reason,
                              'actor', new.actor, 'at', new.at)
    from run r where r.id = new.run_id;
    return new;
end $$;

create trigger run_event_to_alert after insert on run_event
    for each row execute function run_event_to_alert();

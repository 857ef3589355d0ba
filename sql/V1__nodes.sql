-- Nodes, their health history, fleet incidents and operator API tokens.

create table node (
    id               uuid primary key,
    name             varchar(253) not null unique,
    hostname         varchar(253) not null,
    agent_version    varchar(64),
    state            varchar(16)  not null,
    state_reason     varchar(1000),
    state_changed_at timestamptz  not null,
    -- SHA-256 of the node credential; the credential itself is shown once at registration.
    credential_hash  bytea        not null,
    registered_at    timestamptz  not null,
    -- Stamped with the orchestrator's clock; written in batches, so it may lag the in-memory value by a flush.
    last_seen_at     timestamptz,
    last_sequence    bigint       not null default -1,
    gpus             text         not null,
    gpu_health       text,
    trainer_status   text,
    constraint node_state_chk check (state in
        ('REGISTERED', 'HEALTHY', 'SUSPECT', 'FAILED', 'CORDONED', 'DRAINING', 'SPARE'))
);
create index node_state_idx on node (state);

create table node_label (
    node_id uuid         not null references node (id) on delete cascade,
    key     varchar(63)  not null,
    value   varchar(253) not null,
    primary key (node_id, key)
);
create index node_label_kv_idx on node_label (key, value);

create table node_event (
    id         bigserial primary key,
    node_id    uuid          not null references node (id) on delete cascade,
    at         timestamptz   not null,
    from_state varchar(16),
    to_state   varchar(16)   not null,
    reason     varchar(1000) not null,
    -- 'system' or 'operator:<token name>'
    actor      varchar(200)  not null
);
create index node_event_node_at_idx on node_event (node_id, at);
create index node_event_at_idx on node_event (at);

create table fleet_incident (
    id           bigserial primary key,
    opened_at    timestamptz   not null,
    closed_at    timestamptz,
    fleet_size   int           not null,
    silent_nodes int           not null,
    reason       varchar(1000) not null
);

create table api_token (
    id         uuid primary key,
    name       varchar(100) not null unique,
    role       varchar(16)  not null,
    -- SHA-256 of the secret; the secret is shown once when the token is created.
    secret_hash bytea       not null unique,
    created_at timestamptz  not null,
    created_by varchar(200) not null,
    revoked_at timestamptz,
    constraint api_token_role_chk check (role in ('VIEWER', 'OPERATOR', 'ADMIN'))
);

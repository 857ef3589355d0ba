-- Programs (issue 22): the training programs an admin allows run specs to name, and the ones each agent says it has
-- installed. The built-in OPT trainer is in neither: every agent has it and nobody registers it.
create table program (
    id            uuid primary key,
    name          varchar(63)  not null,
    version       varchar(64)  not null,
    description   varchar(500),
    registered_at timestamptz  not null,
    registered_by varchar(200) not null,
    unique (name, version)
);

create table node_program (
    node_id uuid         not null references node (id) on delete cascade,
    program varchar(128) not null, -- name@version
    primary key (node_id, program)
);

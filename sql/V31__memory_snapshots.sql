-- Memory snapshots (issue 16): every rank of a run keeps its shard of a snapshot in its node's memory (tmpfs) and a
-- replica of its ring predecessor's. One row per (snapshot step, node, reporting rank): which ranks' shards that node
-- holds. A restart may restore a snapshot only when every rank's shard is held by a node of the new generation.
create table memory_snapshot (
    run_id       uuid             not null references run (id) on delete cascade,
    step         bigint           not null,
    generation   bigint           not null,
    node_id      uuid             not null,
    rank         int              not null,
    -- the ranks whose shards this node holds: the reporting rank's own and its predecessor's
    held_ranks   int[]            not null,
    -- the world size of the generation that wrote it: ranks 0 .. world_size - 1 must all be held
    world_size   int              not null,
    manifest_sha varchar(64)      not null,
    shard_sha    varchar(64),
    replica_sha  varchar(64),
    tokens_seen  bigint           not null,
    loss_scale   double precision not null,
    loss         double precision not null,
    bytes        bigint           not null,
    -- a restore from it failed (a checksum, or a shard no rank could send): never a restore point again
    unusable     boolean          not null default false,
    reported_at  timestamptz      not null,
    primary key (run_id, step, node_id, rank)
);

-- Node identity (issue 15): an admin can delete a node. A node with run history (placements, incidents) is kept as
-- a tombstone so that the history still names it; its name is free again for a new node.
alter table node add column deleted_at timestamptz;
alter table node drop constraint node_name_key;
create unique index node_name_live_uq on node (name) where deleted_at is null;

-- A re-key is recorded as a node event that keeps the state (from = to): it is not a transition, so it must not
-- raise the node.failed / node.cordoned alert of the state the node is already in.
create or replace function node_event_to_alert() returns trigger language plpgsql as $$
declare
    alert_type varchar(64);
begin
    if new.from_state is not distinct from new.to_state then
        return new;
    end if;
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

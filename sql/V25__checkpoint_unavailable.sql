-- Trust boundaries (issue 15): a restore that cannot read a checkpoint (exit 7: a missing file, an I/O error, a node
-- that does not see the store) no longer marks it corrupt. The nodes that failed are kept; after two it is
-- unavailable and the next older one is used. Corrupt stays for checksum mismatches (exit 3).
alter table checkpoint add column unavailable_nodes uuid[] not null default '{}';
alter table checkpoint add column unavailable boolean not null default false;

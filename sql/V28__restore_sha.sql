-- Trust boundaries (issue 15): a generation's record keeps the SHA-256 of the restored checkpoint's manifest as its
-- writer reported it when the restart was placed; the assignment carries it and the trainer refuses (exit 3) a
-- checkpoint whose manifest differs. Null for a generation that starts from scratch.
alter table run_generation add column restore_sha256 varchar(64);

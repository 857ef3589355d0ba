-- Several ranks per node (issue 18): a rank seat holds `ranks` consecutive global ranks from `rank` (a node runs
-- one trainer per local rank); spares stay whole nodes. Existing seats hold one rank, as before.
alter table placement add column ranks int not null default 1 check (ranks > 0);

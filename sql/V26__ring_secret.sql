-- Trust boundaries (issue 15): every generation gets a random ring secret, drawn by the orchestrator when it places
-- the generation and handed to its ranks in the assignment; the ranks authenticate every hello with it. Never shown
-- by the API. Generations placed before this migration get one here (two v4 UUIDs: 244 random bits from
-- PostgreSQL's strong random source), so their ranks can still be (re)launched.
alter table run_generation add column ring_secret bytea;
update run_generation set ring_secret = decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''),
                                               'hex');
alter table run_generation alter column ring_secret set not null;

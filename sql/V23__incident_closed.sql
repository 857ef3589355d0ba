-- An incident whose run ended (cancelled, failed, finished) before it settled is CLOSED instead of staying open.
alter table incident drop constraint incident_state_chk;
alter table incident add constraint incident_state_chk
    check (state in ('OPEN', 'RECOVERING', 'RECOVERED', 'NEEDS_HUMAN', 'STOPPED', 'CLOSED'));
update incident i set state = 'CLOSED', evidence = evidence || '{"closed": "the run had ended before this migration"}'
from run r where r.id = i.run_id and r.state in ('CANCELLED', 'FAILED', 'SUCCEEDED')
  and i.state in ('OPEN', 'RECOVERING', 'NEEDS_HUMAN');

import { useState } from 'react';
import { api, ApiError, type Checkpoint, type Incident } from './api';
import { checkpointMark, formField, restorable, restartForm, validateRestart, type RestartField, type RestartForm } from './recovery';

export type Errors = Partial<Record<RestartField | 'form', string>>;

/**
 * Restart a run from a chosen checkpoint with chosen knobs (POST /api/v1/runs/{id}/restart). The form's own checks
 * and the API's problem details both land next to the field they name.
 */
export function RestartDialog({ runId, checkpoints, onDone, onClose }: {
  runId: string; checkpoints: Checkpoint[]; onDone: (incident: Incident) => void; onClose: () => void;
}) {
  const [form, setForm] = useState<RestartForm>(() => restartForm(checkpoints));
  const [errors, setErrors] = useState<Errors>({});
  const [busy, setBusy] = useState(false);

  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    const v = validateRestart(form);
    if (!v.ok) { setErrors(v.errors); return; }
    setErrors({});
    setBusy(true);
    api<Incident>(`/api/v1/runs/${runId}/restart`, 'POST', v.body).then(onDone, err => {
      const field = err instanceof ApiError ? formField(err.field) : null;
      setErrors({ [field ?? 'form']: err instanceof Error ? err.message : String(err) });
    }).finally(() => setBusy(false));
  };
  return <RestartFields form={form} errors={errors} busy={busy} checkpoints={checkpoints} onChange={setForm}
                        onSubmit={submit} onClose={onClose} />;
}

/** The form itself, stateless: what it shows follows from the values and errors it is given. */
export function RestartFields({ form, errors, busy, checkpoints, onChange, onSubmit, onClose }: {
  form: RestartForm; errors: Errors; busy: boolean; checkpoints: Checkpoint[]; onChange: (f: RestartForm) => void;
  onSubmit: (e: React.FormEvent) => void; onClose: () => void;
}) {
  const set = <K extends RestartField>(k: K, v: RestartForm[K]) => onChange({ ...form, [k]: v });
  const error = (k: RestartField | 'form') =>
    errors[k] ? <span className="error" role="alert" data-error={k}>{errors[k]}</span> : null;
  const newest = [...checkpoints].sort((a, b) => b.step - a.step);
  return (
    <form className="restart" onSubmit={onSubmit} role="dialog" aria-label="restart from a checkpoint">
      <h3>Restart from a checkpoint</h3>
      <label>checkpoint{' '}
        <select name="checkpointStep" value={form.checkpointStep} onChange={e => set('checkpointStep', e.target.value)}>
          <option value="">newest complete (chosen by the server)</option>
          {newest.map(c => (
            <option key={c.step} value={c.step} disabled={!restorable(c)}>
              step {c.step} · {checkpointMark(c).text}
            </option>))}
        </select>{error('checkpointStep')}
      </label>
      <label>LR multiplier{' '}
        <input name="lrMultiplier" inputMode="decimal" placeholder="unchanged (e.g. 0.9)" value={form.lrMultiplier}
               onChange={e => set('lrMultiplier', e.target.value)} />{error('lrMultiplier')}
      </label>
      <label>clip norm{' '}
        <input name="clipNorm" inputMode="decimal" placeholder="unchanged (e.g. 0.3)" value={form.clipNorm}
               onChange={e => set('clipNorm', e.target.value)} />{error('clipNorm')}
      </label>
      <label>
        <input name="resetLossScaler" type="checkbox" checked={form.resetLossScaler}
               onChange={e => set('resetLossScaler', e.target.checked)} /> reset the loss scaler{error('resetLossScaler')}
      </label>
      <label>skip batches{' '}
        <input name="skipBatches" inputMode="numeric" value={form.skipBatches}
               onChange={e => set('skipBatches', e.target.value)} />{error('skipBatches')}
      </label>
      <label>reason{' '}
        <input name="reason" placeholder="for the logbook" value={form.reason} onChange={e => set('reason', e.target.value)} />
        {error('reason')}
      </label>
      <p>
        <button type="submit" disabled={busy} data-action="restart-submit">restart</button>{' '}
        <button type="button" onClick={onClose} data-action="restart-cancel">close</button>
        {error('form')}
      </p>
    </form>
  );
}
